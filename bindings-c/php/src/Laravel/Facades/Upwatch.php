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
 * @method static array incidents(array $query = [])
 * @method static array incidentStats(array $query = [], string $window = '30d')
 * @method static void addNotifier(array $spec, ?\Upwatch\Notifier $notifier = null)
 * @method static bool removeNotifier(string $name)
 * @method static void addAlert(array $rule)
 * @method static bool removeAlert(string $name)
 * @method static void addMaintenance(array $window)
 * @method static bool removeMaintenance(string $name)
 * @method static void mute(string $target, string $duration)
 * @method static void unmute(string $target)
 * @method static array alerting()
 * @method static array pendingAlerts()
 * @method static array readiness(?array $services = null)
 * @method static int serveNotifiers(float $seconds)
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
