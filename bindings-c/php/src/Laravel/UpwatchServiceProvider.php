<?php

declare(strict_types=1);

namespace Upwatch\Laravel;

use Illuminate\Contracts\Events\Dispatcher;
use Illuminate\Support\ServiceProvider;
use Upwatch\Laravel\Console\CheckCommand;
use Upwatch\Laravel\Console\RunCommand;
use Upwatch\Monitor;

/**
 * Registers the monitor as a lazy singleton: nothing is loaded and no thread starts at
 * boot (php-fpm's master never runs the engine); the worker that first uses it builds it.
 */
class UpwatchServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->mergeConfigFrom(dirname(__DIR__, 2) . '/config/upwatch.php', 'upwatch');

        $this->app->singleton(Monitor::class, function ($app): Monitor {
            $config = $app['config']->get('upwatch');
            $engine = array_filter(
                (array) ($config['monitor'] ?? []),
                static fn ($v) => $v !== null
            );
            if (!empty($config['checks'])) {
                $engine['checks'] = array_values($config['checks']);
            }
            if (!empty($config['services'])) {
                $engine['services'] = array_values($config['services']);
            }
            // Callable notifiers name their class; the engine gets the rest of the spec.
            $classes = [];
            foreach (array_values((array) ($config['notifiers'] ?? [])) as $notifier) {
                if (isset($notifier['class'])) {
                    $classes[(string) $notifier['name']] = (string) $notifier['class'];
                    unset($notifier['class']);
                }
                $engine['notifiers'][] = $notifier;
            }
            foreach (['alerts', 'maintenance'] as $key) {
                if (!empty($config[$key])) {
                    $engine[$key] = array_values($config[$key]);
                }
            }
            $monitor = new Monitor($engine, ['library' => $config['library'] ?? null, 'lazy' => true]);
            foreach ($classes as $name => $class) {
                // Resolved from the container when its first alert comes (in upwatch:run).
                $monitor->useNotifier($name, static fn () => $app->make($class));
            }
            if (!empty($config['start_in_workers'])) {
                $monitor->start();
            }
            return $monitor;
        });
        $this->app->alias(Monitor::class, 'upwatch');
    }

    public function boot(): void
    {
        $this->publishes(
            [dirname(__DIR__, 2) . '/config/upwatch.php' => $this->app->configPath('upwatch.php')],
            'upwatch-config'
        );
        if ($this->app['config']->get('upwatch.routes.enabled', true)) {
            $this->loadRoutesFrom(dirname(__DIR__, 2) . '/routes/upwatch.php');
        }
        if ($this->app->runningInConsole()) {
            $this->commands([RunCommand::class, CheckCommand::class]);
        }
        if ($this->app['config']->get('upwatch.dispatch_events_on_terminate', true)) {
            $this->app->terminating(function (): void {
                // Only when this request used upwatch: never builds the engine just to poll.
                if ($this->app->resolved(Monitor::class)) {
                    $monitor = $this->app->make(Monitor::class);
                    if ($monitor->isLive()) {
                        EventPump::drain($monitor, $this->app->make(Dispatcher::class), 0);
                    }
                }
            });
        }
    }
}
