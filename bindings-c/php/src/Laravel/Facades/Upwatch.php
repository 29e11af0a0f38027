<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Facades;

use Illuminate\Support\Facades\Facade;
use Upwatch\Monitor;

/**
 * @method static void register(array $spec)
 * @method static void update(array $spec)
 * @method static void delete(string $name)
 * @method static void pause(string $name)
 * @method static void resume(string $name)
 * @method static array runNow(string|array|null $names = null)
 * @method static array push(string $name, bool $ok = true, ?string $message = null)
 * @method static array record(string $name, bool $ok, float $durationMs, ?string $message = null)
 * @method static array status()
 * @method static array history(array $query = [])
 * @method static array changes(array $query = [])
 * @method static array uptime(array $query = [], string $window = '30d')
 * @method static array host()
 * @method static string prometheus()
 * @method static void start()
 * @method static \Generator events(int $timeoutMs = 0, ?int $limit = null)
 *
 * @see Monitor
 */
class Upwatch extends Facade
{
    protected static function getFacadeAccessor(): string
    {
        return Monitor::class;
    }
}
