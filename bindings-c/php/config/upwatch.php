<?php

// upwatch for Laravel. Publish with: php artisan vendor:publish --tag=upwatch-config

return [
    // libupwatch.so; null: the environment variable UPWATCH_LIB, then next to the package,
    // then the system library path.
    'library' => env('UPWATCH_LIB'),

    // The engine's config (the same shape in every language). One SQLite file shared by
    // every php-fpm worker and `php artisan upwatch:run`: a lease makes one process run the
    // checks; the others read status and history from the file.
    'monitor' => [
        'db' => env('UPWATCH_DB', function_exists('storage_path') ? storage_path('upwatch.db') : null),
        'host_interval' => env('UPWATCH_HOST_INTERVAL', '15s'),
    ],

    // Checks and services, as in a spec file.
    'checks' => [
        // ['name' => 'home', 'kind' => 'http', 'url' => 'https://example.com/', 'interval' => '1m'],
    ],
    'services' => [],

    // Alerting, in the same shapes as a spec file's [[notifiers]], [[alerts]] and
    // [[maintenance]]. A "callable" notifier names a class implementing Upwatch\Notifier,
    // resolved from the container; `php artisan upwatch:run` (the process that runs the
    // checks) calls its send() with each alert. Secrets belong in env(), never in git.
    'notifiers' => [
        // ['name' => 'ops', 'kind' => 'webhook', 'url' => env('UPWATCH_WEBHOOK_URL'), 'secret' => env('UPWATCH_WEBHOOK_SECRET')],
        // ['name' => 'pager', 'kind' => 'callable', 'class' => App\Notifiers\Pager::class, 'backoff' => '5s'],
    ],
    'alerts' => [
        // ['name' => 'site down', 'services' => ['web'], 'for' => '2m', 'repeat' => '1h', 'notify' => ['ops', 'pager']],
    ],
    'maintenance' => [
        // ['name' => 'nightly backup', 'weekdays' => ['mon', 'tue', 'wed', 'thu', 'fri'], 'start' => '02:00', 'end' => '02:30', 'timezone' => 'Europe/Paris'],
    ],

    // Start scheduling in the web worker that first uses upwatch (php-fpm: never at boot,
    // never in the master). Off by default: run the checks with `php artisan upwatch:run`.
    'start_in_workers' => (bool) env('UPWATCH_START_IN_WORKERS', false),

    // The HTTP endpoints: GET {path}/status, history, changes, uptime, host, metrics, ready,
    // incidents, alerts.
    'routes' => [
        'enabled' => true,
        'path' => env('UPWATCH_PATH', 'upwatch'),
        'middleware' => [],
    ],

    // Who may read the endpoints: null asks the Gate "viewUpwatch" (define it in your
    // AuthServiceProvider; without it, nobody may), or a class name / callable taking the
    // Request and returning bool. Endpoints listed in "public" need no permission.
    'authorize' => null,
    'public' => [],

    // The services whose "down" makes GET ready answer 503; null: every declared service.
    'ready_services' => null,

    // Dispatch upwatch events as Laravel events at the end of each request (drained from
    // the engine's queue; PHP is never called from the engine's threads).
    'dispatch_events_on_terminate' => true,
];
