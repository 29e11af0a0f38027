<?php

require_once __DIR__ . '/autoload.php';

$base = dirname(__DIR__);
// Runtime folders (not in git): logs, caches.
foreach (['storage/logs', 'storage/framework/cache', 'storage/framework/views', 'bootstrap/cache'] as $dir) {
    if (!is_dir("{$base}/{$dir}")) {
        mkdir("{$base}/{$dir}", 0775, true);
    }
}

$app = new Illuminate\Foundation\Application($base);

$app->singleton(Illuminate\Contracts\Http\Kernel::class, App\Http\Kernel::class);
$app->singleton(Illuminate\Contracts\Console\Kernel::class, App\Console\Kernel::class);
$app->singleton(Illuminate\Contracts\Debug\ExceptionHandler::class, App\Exceptions\Handler::class);

return $app;
