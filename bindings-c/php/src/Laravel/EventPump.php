<?php

declare(strict_types=1);

namespace Upwatch\Laravel;

use Illuminate\Contracts\Events\Dispatcher;
use Upwatch\Laravel\Events\CheckFailed;
use Upwatch\Laravel\Events\CheckStatusChanged;
use Upwatch\Laravel\Events\CheckSucceeded;
use Upwatch\Laravel\Events\ServiceStatusChanged;
use Upwatch\Laravel\Events\UpwatchEvent;
use Upwatch\Monitor;

/** Moves events from the engine's queue to Laravel's dispatcher, on the calling PHP thread. */
final class EventPump
{
    private const CLASSES = [
        'check_status_changed' => CheckStatusChanged::class,
        'service_status_changed' => ServiceStatusChanged::class,
        'check_failed' => CheckFailed::class,
        'check_succeeded' => CheckSucceeded::class,
    ];

    /**
     * Dispatches queued events until none comes within $timeoutMs (0: only what is queued),
     * at most $max of them. Returns how many were dispatched.
     */
    public static function drain(Monitor $monitor, Dispatcher $events, int $timeoutMs = 0, int $max = 10000): int
    {
        $n = 0;
        foreach ($monitor->events($timeoutMs, $max) as $payload) {
            $events->dispatch(self::event($payload));
            $n++;
        }
        return $n;
    }

    /** @param array<string, mixed> $payload */
    public static function event(array $payload): UpwatchEvent
    {
        $class = self::CLASSES[$payload['event'] ?? ''] ?? UpwatchEvent::class;
        return new $class($payload);
    }
}
