<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Console;

use Illuminate\Console\Command;
use Illuminate\Contracts\Events\Dispatcher;
use Upwatch\Laravel\EventPump;
use Upwatch\Monitor;

/**
 * Runs the checks on their schedules, sends the alerts of callable notifiers to their PHP
 * classes (config upwatch.notifiers) and dispatches upwatch events as Laravel events, until
 * stopped (SIGTERM/SIGINT) or for --for seconds. Run it like queue:work, under a supervisor.
 */
class RunCommand extends Command
{
    protected $signature = 'upwatch:run {--for= : stop after this many seconds}';
    protected $description = 'Run the upwatch checks on their schedules, send their alerts and dispatch their events';

    private bool $stop = false;

    public function handle(Monitor $monitor, Dispatcher $events): int
    {
        $monitor->start();
        $info = $monitor->info();
        $this->info(sprintf(
            'upwatch: %d checks%s',
            count($monitor->status()['checks'] ?? []),
            $info['shared'] ? ($info['runs_checks'] ? ' (this process holds the lease)' : ' (another process runs the checks)') : ''
        ));
        if (function_exists('pcntl_async_signals')) {
            pcntl_async_signals(true);
            pcntl_signal(SIGTERM, function (): void {
                $this->stop = true;
            });
            pcntl_signal(SIGINT, function (): void {
                $this->stop = true;
            });
        }
        $for = $this->option('for');
        $until = $for === null ? null : microtime(true) + (float) $for;
        $dispatched = 0;
        $alerts = 0;
        while (!$this->stop && ($until === null || microtime(true) < $until)) {
            // Alerts first (each waits within its notifier's timeout), then events; each
            // wait is short so neither holds up the other for long.
            $wait = $until === null ? 0.25 : max(0.0, min(0.25, $until - microtime(true)));
            $alerts += $monitor->serveNotifiers(0);
            $dispatched += EventPump::drain($monitor, $events, (int) ($wait * 1000), 1000);
        }
        $alerts += $monitor->serveNotifiers(0);
        $monitor->shutdown();
        $this->info("upwatch: stopped ({$dispatched} events dispatched, {$alerts} alerts sent to notifiers)");
        return self::SUCCESS;
    }
}
