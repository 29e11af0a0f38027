<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Http;

use Closure;
use Illuminate\Contracts\Auth\Access\Gate;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Symfony\Component\HttpFoundation\Response;

/**
 * The permission hook of the endpoints: closed unless the app says who may read them
 * (config upwatch.authorize, or the Gate "viewUpwatch"), except the endpoints listed in
 * config upwatch.public.
 */
class Authorize
{
    /** @return mixed */
    public function handle(Request $request, Closure $next)
    {
        $endpoint = basename($request->path());
        if (in_array($endpoint, (array) config('upwatch.public', []), true) || $this->allows($request)) {
            return $next($request);
        }
        return new JsonResponse(
            ['error' => ['code' => 'forbidden', 'message' => 'not allowed to read upwatch']],
            Response::HTTP_FORBIDDEN
        );
    }

    private function allows(Request $request): bool
    {
        $rule = config('upwatch.authorize');
        if ($rule === null) {
            $app = app();
            if (!$app->bound(Gate::class)) {
                return false;
            }
            $gate = $app->make(Gate::class);
            return $gate->has('viewUpwatch') && $gate->allows('viewUpwatch');
        }
        if (is_string($rule) && class_exists($rule)) {
            $rule = app()->make($rule);
        }
        return is_callable($rule) && (bool) $rule($request);
    }
}
