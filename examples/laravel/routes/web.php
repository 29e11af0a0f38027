<?php

use Illuminate\Support\Facades\Route;
use Upwatch\Laravel\Facades\Upwatch;

Route::get('/', static fn () => 'upwatch example: see /upwatch/ready');

// The application reports its own work: a push check fed from a route.
Route::post('/backup-done', static function () {
    return response()->json(Upwatch::push('nightly-backup', true, 'backup finished'));
});
