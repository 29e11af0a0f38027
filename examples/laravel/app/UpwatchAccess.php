<?php

namespace App;

use Illuminate\Http\Request;

/**
 * Who may read the upwatch endpoints in this example: requests from this machine carrying
 * the token of UPWATCH_EXAMPLE_TOKEN (a stand-in for a real staff check such as
 * `$request->user()?->is_admin`).
 */
class UpwatchAccess
{
    public function __invoke(Request $request): bool
    {
        $token = (string) env('UPWATCH_EXAMPLE_TOKEN', '');
        return $token !== '' && hash_equals($token, (string) $request->bearerToken());
    }
}
