<?php

// Without composer's registry: Debian's packaged Laravel (php-laravel-framework), then a
// small PSR-4 autoloader for this app (App\) and the upwatch package (Upwatch\). With
// composer, `composer require upwatch/upwatch` and vendor/autoload.php replace this file.

require_once '/usr/share/php/Illuminate/autoload.php';

spl_autoload_register(static function (string $class): void {
    $roots = [
        'App\\' => dirname(__DIR__) . '/app/',
        'Upwatch\\' => getenv('UPWATCH_PHP_SRC') ?: dirname(__DIR__, 3) . '/bindings-c/php/src/',
    ];
    foreach ($roots as $prefix => $dir) {
        if (strncmp($class, $prefix, strlen($prefix)) === 0) {
            $file = rtrim($dir, '/') . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});
