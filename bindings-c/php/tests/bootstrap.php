<?php

declare(strict_types=1);

// A tiny PSR-4 autoloader for the tests (no composer registry needed), plus Debian's
// packaged Laravel (php-laravel-framework) and the example app's App\ classes.

spl_autoload_register(static function (string $class): void {
    $roots = [
        'Upwatch\\Tests\\' => __DIR__ . '/',
        'Upwatch\\' => dirname(__DIR__) . '/src/',
        'App\\' => dirname(__DIR__, 3) . '/examples/laravel/app/',
    ];
    foreach ($roots as $prefix => $dir) {
        if (strncmp($class, $prefix, strlen($prefix)) === 0) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});

if (is_file('/usr/share/php/Illuminate/autoload.php')) {
    require_once '/usr/share/php/Illuminate/autoload.php';
}
