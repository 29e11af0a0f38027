<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Console;

use Illuminate\Console\Command;
use Upwatch\Monitor;
use Upwatch\UpwatchException;

/** Runs checks once and prints their results; exits 1 when one is down. */
class CheckCommand extends Command
{
    protected $signature = 'upwatch:check {names?* : checks to run (default: all)} {--json : print results as JSON lines}';
    protected $description = 'Run upwatch checks now and print their results (exit code 1 when one is down)';

    public function handle(Monitor $monitor): int
    {
        $names = $this->argument('names');
        try {
            $results = $monitor->runNow($names === [] ? null : array_values($names));
        } catch (UpwatchException $e) {
            $this->error("upwatch: {$e->getMessage()}");
            return 2;
        }
        $down = 0;
        foreach ($results as $r) {
            $down += $r['status'] === 'down' ? 1 : 0;
            if ($this->option('json')) {
                $this->line(json_encode($r, JSON_UNESCAPED_SLASHES));
            } else {
                $this->line(sprintf(
                    '%-8s %-30s %8.1f ms  %s',
                    $r['status'],
                    $r['check'],
                    $r['duration_ms'],
                    $r['error']['message'] ?? ''
                ));
            }
        }
        return $down > 0 ? 1 : 0;
    }
}
