<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Events;

/**
 * An upwatch event as a Laravel event. $payload is the event's JSON shape (the same in
 * every language); $name is its "event" field. Listen to a subclass (CheckStatusChanged,
 * ServiceStatusChanged, CheckFailed, CheckSucceeded) or to this class for every event.
 */
class UpwatchEvent
{
    public string $name;

    /** @param array<string, mixed> $payload */
    final public function __construct(public array $payload)
    {
        $this->name = (string) ($payload['event'] ?? '');
    }
}
