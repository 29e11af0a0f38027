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
    'start_in_workers' => false,
    'routes' => ['enabled' => true, 'path' => 'upwatch', 'middleware' => []],
    'authorize' => App\UpwatchAccess::class,
    'public' => ['ready'],
    'ready_services' => ['web'],
    'dispatch_events_on_terminate' => true,
];
