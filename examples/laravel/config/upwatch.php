<?php

// The example's upwatch config (the package's defaults are in bindings-c/php/config/upwatch.php).
$target = rtrim((string) env('UPWATCH_EXAMPLE_TARGET', 'http://127.0.0.1:8080'), '/');

return [
    'library' => env('UPWATCH_LIB'),
    'monitor' => [
        'db' => env('UPWATCH_DB', storage_path('upwatch.db')),
        'host_interval' => 'off',
    ],
    'checks' => [
        ['name' => 'home', 'service' => 'web', 'kind' => 'http', 'url' => "{$target}/health", 'interval' => '30s'],
        ['name' => 'errors', 'service' => 'backend', 'kind' => 'http', 'url' => "{$target}/status/500", 'interval' => '30s'],
        ['name' => 'nightly-backup', 'kind' => 'push', 'interval' => '1d'],
    ],
    'services' => [
        ['name' => 'web', 'description' => 'the public site'],
        ['name' => 'backend', 'description' => 'the API behind it'],
    ],
    // Alerts: the backend's checks, to a PHP class (served by `php artisan upwatch:run`) and,
    // when UPWATCH_ALERT_WEBHOOK is set, to a signed webhook.
    'notifiers' => array_values(array_filter([
        ['name' => 'log', 'kind' => 'callable', 'class' => App\Notifiers\LogNotifier::class],
        env('UPWATCH_ALERT_WEBHOOK') ? array_filter(['name' => 'webhook', 'kind' => 'webhook',
            'url' => env('UPWATCH_ALERT_WEBHOOK'), 'secret' => env('UPWATCH_ALERT_SECRET')]) : null,
    ])),
    'alerts' => [
        ['name' => 'backend down', 'services' => ['backend'], 'for' => '0s', 'repeat' => '1h',
            'notify' => env('UPWATCH_ALERT_WEBHOOK') ? ['log', 'webhook'] : ['log']],
    ],
    'maintenance' => [
        // Alerts about the site are held back while it is deployed.
        ['name' => 'nightly deploys', 'services' => ['web'], 'weekdays' => ['mon', 'tue', 'wed', 'thu', 'fri'],
            'start' => '03:00', 'end' => '03:15', 'timezone' => 'Europe/Paris'],
    ],
    'start_in_workers' => false,
    'routes' => ['enabled' => true, 'path' => 'upwatch', 'middleware' => []],
    'authorize' => App\UpwatchAccess::class,
    'public' => ['ready'],
    'ready_services' => ['web'],
    'dispatch_events_on_terminate' => true,
];
