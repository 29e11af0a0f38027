<?php

declare(strict_types=1);

namespace Upwatch\Tests;

use Upwatch\Notifier;

/** A PHP notifier for the tests: keeps every alert it is given, and fails the first $failures. */
final class RecordingNotifier implements Notifier
{
    /** @var list<array<string, mixed>> */
    public array $alerts = [];

    public function __construct(public int $failures = 0)
    {
    }

    public function send(array $alert): void
    {
        $this->alerts[] = $alert;
        if ($this->failures > 0) {
            $this->failures--;
            throw new \RuntimeException('pager offline');
        }
    }
}
