<?php

namespace App\Providers;

use Illuminate\Support\Facades\Event;
use Illuminate\Support\ServiceProvider;
use Upwatch\Laravel\Events\CheckStatusChanged;

class AppServiceProvider extends ServiceProvider
{
    public function boot(): void
    {
        // upwatch events are Laravel events: log every status change.
        Event::listen(CheckStatusChanged::class, static function (CheckStatusChanged $e): void {
            logger()->info(sprintf(
                'upwatch: %s is %s (was %s)',
                $e->payload['check'],
                $e->payload['status'],
                $e->payload['previous'] ?? 'unknown'
            ));
        });
    }
}
