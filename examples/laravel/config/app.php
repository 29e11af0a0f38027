<?php

return [
    'name' => 'upwatch example',
    'env' => env('APP_ENV', 'production'),
    'debug' => (bool) env('APP_DEBUG', false),
    'url' => 'http://localhost',
    'timezone' => 'UTC',
    'locale' => 'en',
    'fallback_locale' => 'en',
    'key' => env('APP_KEY', 'base64:' . base64_encode(str_repeat('k', 32))),
    'cipher' => 'AES-256-CBC',
    'providers' => [
        Illuminate\Filesystem\FilesystemServiceProvider::class,
        Illuminate\View\ViewServiceProvider::class,
        Illuminate\Translation\TranslationServiceProvider::class,
        // Listed here because composer's package discovery (extra.laravel in the package's
        // composer.json) needs composer; with composer, leave it out.
        Upwatch\Laravel\UpwatchServiceProvider::class,
        App\Providers\AppServiceProvider::class,
        App\Providers\RouteServiceProvider::class,
    ],
    'aliases' => [
        'Upwatch' => Upwatch\Laravel\Facades\Upwatch::class,
    ],
];
