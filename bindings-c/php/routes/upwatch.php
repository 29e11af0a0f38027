<?php

use Illuminate\Support\Facades\Route;
use Upwatch\Laravel\Http\Authorize;
use Upwatch\Laravel\Http\UpwatchController;

Route::group([
    'prefix' => config('upwatch.routes.path', 'upwatch'),
    'middleware' => array_merge(config('upwatch.routes.middleware', []), [Authorize::class]),
], static function (): void {
    foreach (['status', 'history', 'changes', 'uptime', 'host', 'metrics', 'ready', 'incidents', 'alerts'] as $endpoint) {
        Route::get($endpoint, [UpwatchController::class, $endpoint])->name("upwatch.{$endpoint}");
    }
});
