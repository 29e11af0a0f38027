<?php

declare(strict_types=1);

namespace Upwatch;

use FFI;
use FFI\CData;
use Generator;

/**
 * An upwatch monitor: the engine of libupwatch, running in this process.
 *
 * ```php
 * $m = new Upwatch\Monitor(['db' => '/var/lib/app/upwatch.db', 'host_interval' => 'off']);
 * $m->register(['name' => 'api', 'kind' => 'http', 'url' => 'https://api.example.com/health']);
 * $results = $m->runNow();
 * foreach ($m->events(0) as $event) { ... }   // PHP never receives calls from other threads
 * ```
 *
 * Config, specs, results and events have the same shapes as in every other upwatch language.
 * The engine's threads start when the monitor is made (or, with the option "lazy", on first
 * use: what php-fpm workers want, so nothing starts in a process that never uses it).
 */
class Monitor
{
    private FFI $ffi;
    private ?CData $handle = null;
    /** @var array<string, mixed> */
    private array $config;
    private ?string $file = null;
    private bool $released = false;
    /** @var array<string, Notifier|\Closure(): Notifier> the objects behind callable notifiers, by name */
    private array $notifiers = [];

    /**
     * @param array<string, mixed> $config the config shape: db, lease, host_interval,
     *        max_concurrency, max_per_host, threads, retention, checks, services
     * @param array{library?: string|null, lazy?: bool} $options library: the path of
     *        libupwatch.so (default: see Library); lazy: build the engine on first use
     */
    public function __construct(array $config = [], array $options = [])
    {
        $this->ffi = Library::ffi($options['library'] ?? null);
        $this->config = $config;
        if (!($options['lazy'] ?? false)) {
            $this->handle();
        }
    }

    /**
     * A monitor configured by a TOML or JSON file (engine settings in a [monitor] table).
     *
     * @param array{library?: string|null, lazy?: bool} $options
     */
    public static function fromFile(string $path, array $options = []): self
    {
        $m = new self([], ['lazy' => true] + $options);
        $m->file = $path;
        if (!($options['lazy'] ?? false)) {
            $m->handle();
        }
        return $m;
    }

    /** Whether the engine was built (a lazy monitor builds it on first use). */
    public function isLive(): bool
    {
        return $this->handle !== null;
    }

    private function handle(): CData
    {
        if ($this->handle !== null) {
            return $this->handle;
        }
        if ($this->released) {
            throw new ClosedException('the monitor was closed', UpwatchException::CLOSED, 'closed');
        }
        $handle = $this->ffi->new('upwatch_monitor*');
        if ($this->file !== null) {
            $this->check($this->ffi->upwatch_new_from_file($this->file, FFI::addr($handle)));
        } else {
            $this->check($this->ffi->upwatch_new(self::encode($this->config === [] ? null : $this->config), FFI::addr($handle)));
        }
        return $this->handle = $handle;
    }

    /**
     * Registers a check (a spec array) or several (a list of specs: all are validated
     * first and none is registered unless all are valid). An existing name is replaced.
     *
     * @param array<string, mixed>|list<array<string, mixed>> $spec
     */
    public function register(array $spec): void
    {
        $this->check($this->ffi->upwatch_register($this->handle(), self::encode($spec)));
    }

    /** @param array<string, mixed> $spec Replaces a check's spec, keeping its status. */
    public function update(array $spec): void
    {
        $this->check($this->ffi->upwatch_update($this->handle(), self::encode($spec)));
    }

    public function delete(string $name): void
    {
        $this->check($this->ffi->upwatch_delete($this->handle(), $name));
    }

    public function pause(string $name): void
    {
        $this->check($this->ffi->upwatch_pause($this->handle(), $name));
    }

    public function resume(string $name): void
    {
        $this->check($this->ffi->upwatch_resume($this->handle(), $name));
    }

    /**
     * Runs checks now (all when $names is null) and returns their results.
     *
     * @param string|list<string>|null $names
     * @return list<array<string, mixed>>
     */
    public function runNow($names = null): array
    {
        return $this->call('upwatch_run_now', $names === null ? null : self::encode($names));
    }

    /**
     * A heartbeat for a push check; returns the check's fresh result.
     *
     * @return array<string, mixed>
     */
    public function push(string $name, bool $ok = true, ?string $message = null): array
    {
        return $this->call('upwatch_push', $name, $ok, $message);
    }

    /**
     * A result from the application's own traffic on a push check, with its duration.
     *
     * @return array<string, mixed>
     */
    public function record(string $name, bool $ok, float $durationMs, ?string $message = null): array
    {
        return $this->call('upwatch_record', $name, $ok, $durationMs, $message);
    }

    /**
     * Every check's latest result and status, every service's status.
     *
     * @return array<string, mixed>
     */
    public function status(): array
    {
        return $this->call('upwatch_status');
    }

    /**
     * A page of stored results, newest first: ['check' => 'api' | [...], 'service', 'tag',
     * 'status' => 'down', 'since' => '24h', 'until', 'cursor', 'limit' => 100].
     *
     * @param array<string, mixed> $query
     * @return array{items: list<array<string, mixed>>, next_cursor: string|null}
     */
    public function history(array $query = []): array
    {
        return $this->call('upwatch_history', self::encode($query === [] ? null : $query));
    }

    /**
     * A page of status changes, newest first (the query shape of history()).
     *
     * @param array<string, mixed> $query
     * @return array{items: list<array<string, mixed>>, next_cursor: string|null}
     */
    public function changes(array $query = []): array
    {
        return $this->call('upwatch_status_changes', self::encode($query === [] ? null : $query));
    }

    /**
     * Uptime and latency percentiles over $window for the checks matching $query.
     *
     * @param array<string, mixed> $query
     * @return array{window: string, checks: list<array<string, mixed>>}
     */
    public function uptime(array $query = [], string $window = '30d'): array
    {
        return $this->call('upwatch_uptime', self::encode($query === [] ? null : $query), $window);
    }

    /**
     * A page of incidents (a check down until it is back up), newest first, for the checks
     * matching $query (the query shape of history()).
     *
     * @param array<string, mixed> $query
     * @return array{items: list<array<string, mixed>>, next_cursor: string|null}
     */
    public function incidents(array $query = []): array
    {
        return $this->call('upwatch_incidents', self::encode($query === [] ? null : $query));
    }

    /**
     * Incidents, downtime, MTTR and MTBF per check over $window for the checks matching $query.
     *
     * @param array<string, mixed> $query
     * @return list<array<string, mixed>>
     */
    public function incidentStats(array $query = [], string $window = '30d'): array
    {
        return $this->call('upwatch_incident_stats', self::encode($query === [] ? null : $query), $window);
    }

    /**
     * Adds a notifier (the [[notifiers]] shape: name, kind, url, secret, headers, timeout,
     * max_attempts, backoff, max_backoff), or replaces the one of the same name. A "callable"
     * notifier takes the PHP object that sends its alerts, called by serveNotifiers(); other
     * kinds take none.
     *
     * @param array<string, mixed> $spec
     */
    public function addNotifier(array $spec, ?Notifier $notifier = null): void
    {
        $callable = ($spec['kind'] ?? null) === 'callable';
        if ($callable !== ($notifier !== null)) {
            $message = $callable
                ? 'fn: a callable notifier needs its Notifier object'
                : 'fn: only callable notifiers take a Notifier object';
            throw new InvalidArgumentException($message, UpwatchException::INVALID_ARGUMENT, 'invalid_argument', 'fn', [
                ['path' => 'fn', 'message' => substr($message, 4)],
            ]);
        }
        $this->check($this->ffi->upwatch_add_notifier($this->handle(), self::encode($spec)));
        if ($notifier !== null) {
            $this->notifiers[(string) $spec['name']] = $notifier;
        }
    }

    /**
     * The PHP object behind a callable notifier declared in the config (or a function that
     * makes it when the first alert comes: Laravel resolves it from the container then).
     *
     * @param Notifier|\Closure(): Notifier $notifier
     */
    public function useNotifier(string $name, $notifier): void
    {
        if (!$notifier instanceof Notifier && !$notifier instanceof \Closure) {
            throw new \TypeError('useNotifier(): expected an Upwatch\\Notifier or a Closure returning one');
        }
        $this->notifiers[$name] = $notifier;
    }

    /** Removes a notifier; whether it existed. */
    public function removeNotifier(string $name): bool
    {
        unset($this->notifiers[$name]);
        return $this->callBool('upwatch_remove_notifier', $name);
    }

    /**
     * Adds an alert rule (the [[alerts]] shape: name, on, checks, services, tags, for,
     * severity, notify, repeat, send_resolved), or replaces the one of the same name. Its
     * notify names must be notifiers already added (SpecException, path "notify[0]").
     *
     * @param array<string, mixed> $rule
     */
    public function addAlert(array $rule): void
    {
        $this->check($this->ffi->upwatch_add_alert($this->handle(), self::encode($rule)));
    }

    /** Removes an alert rule; whether it existed. */
    public function removeAlert(string $name): bool
    {
        return $this->callBool('upwatch_remove_alert', $name);
    }

    /**
     * Adds a maintenance window: ['name', 'checks' | 'services' | 'tags', 'from', 'to'] once,
     * or ['weekdays' => ['mon'], 'start' => '02:00', 'end' => '02:30', 'timezone' => 'Europe/Paris'].
     *
     * @param array<string, mixed> $window
     */
    public function addMaintenance(array $window): void
    {
        $this->check($this->ffi->upwatch_add_maintenance($this->handle(), self::encode($window)));
    }

    /** Removes a maintenance window; whether it existed. */
    public function removeMaintenance(string $name): bool
    {
        return $this->callBool('upwatch_remove_maintenance', $name);
    }

    /**
     * Alert counters (as in status()['alerts']), alerting() and pendingAlerts() in one answer,
     * without the status of every check.
     *
     * @return array{status: array<string, mixed>, alerting: array<string, mixed>, pending: list<array<string, mixed>>}
     */
    public function alertsReport(): array
    {
        return $this->call('upwatch_alerts_report');
    }

    /**
     * Holds back alerts about a check or a service's checks for $duration ("30m"; "0s" ends it).
     * They still run and are stored, flagged 'maintenance'. With a shared database the mute is
     * kept there and sent to the worker that runs the checks (this call waits for it).
     */
    public function mute(string $target, string $duration): void
    {
        $this->check($this->ffi->upwatch_mute($this->handle(), $target, $duration));
    }

    public function unmute(string $target): void
    {
        $this->check($this->ffi->upwatch_unmute($this->handle(), $target));
    }

    /**
     * The alerting set-up in force: notifiers (no URL, secret or header), rules, maintenance
     * windows (with "active") and mutes.
     *
     * @return array{notifiers: list<array<string, mixed>>, rules: list<array<string, mixed>>,
     *     maintenance: list<array<string, mixed>>, mutes: list<array<string, mixed>>}
     */
    public function alerting(): array
    {
        return $this->call('upwatch_alerting');
    }

    /** @return list<array<string, mixed>> Alerts waiting in this process's outbox, oldest first. */
    public function pendingAlerts(): array
    {
        return $this->call('upwatch_pending_alerts');
    }

    /**
     * What a ready endpoint answers: ready unless one of $services (every declared service
     * when null) is down; a service without a status yet is "unknown".
     *
     * @param list<string>|null $services
     * @return array{ready: bool, services: array<string, string>}
     */
    public function readiness(?array $services = null): array
    {
        return $this->call('upwatch_readiness', $services === null ? null : self::encode(array_values($services)));
    }

    /**
     * The next alert for this process's callable notifiers (of $notifier only, when given),
     * waiting up to $timeoutMs (0: only look; negative: until one comes): ['delivery_id',
     * 'notifier', 'alert'], or null when none came or the monitor is shut down. Answer it
     * with alertDone() within the notifier's timeout. serveNotifiers() does both.
     *
     * @return array{delivery_id: int, notifier: string, alert: array<string, mixed>}|null
     */
    public function nextAlert(?string $notifier = null, int $timeoutMs = 0): ?array
    {
        $out = $this->ffi->new('char*');
        $rc = $this->ffi->upwatch_next_alert($this->handle(), $notifier, $timeoutMs, FFI::addr($out));
        if ($rc === UpwatchException::TIMEOUT || $rc === UpwatchException::CLOSED) {
            return null;
        }
        $this->check($rc);
        return self::decode($this->take($out));
    }

    /** Answers an alert from nextAlert(): delivered, or a failed attempt described by $error. */
    public function alertDone(int $deliveryId, bool $ok, ?string $error = null): void
    {
        $this->check($this->ffi->upwatch_alert_done($this->handle(), $deliveryId, $ok, $error));
    }

    /**
     * Serves the callable notifiers for $seconds (0: only the alerts already queued): each
     * alert goes to its Notifier's send(); returning acknowledges it, a throw is a failed
     * attempt with the exception's message (retried by the engine). An alert of a notifier
     * this object has no Notifier for fails ("no PHP notifier"). Returns how many alerts
     * were handled. Only the process that sends alerts (the lease holder) gets any.
     */
    public function serveNotifiers(float $seconds): int
    {
        $until = microtime(true) + max(0.0, $seconds);
        $n = 0;
        for (;;) {
            $left = (int) max(0, ceil(($until - microtime(true)) * 1000));
            $next = $this->nextAlert(null, $left);
            if ($next === null) {
                return $n;
            }
            $n++;
            $name = $next['notifier'];
            try {
                $this->notifier($name)->send($next['alert']);
            } catch (\Throwable $e) {
                $text = $e->getMessage() !== '' ? $e->getMessage() : get_class($e);
                $this->alertDone((int) $next['delivery_id'], false, $text);
                continue;
            }
            $this->alertDone((int) $next['delivery_id'], true);
        }
    }

    private function notifier(string $name): Notifier
    {
        $notifier = $this->notifiers[$name] ?? null;
        if ($notifier instanceof \Closure) {
            $notifier = $this->notifiers[$name] = $notifier();
        }
        if (!$notifier instanceof Notifier) {
            throw new \RuntimeException("no PHP notifier for {$name} in this process (addNotifier or useNotifier)");
        }
        return $notifier;
    }

    /** @return array<string, mixed> A host snapshot: CPU, memory, disks, load. */
    public function host(): array
    {
        return $this->call('upwatch_host');
    }

    /** The current state in the Prometheus text format. */
    public function prometheus(): string
    {
        return $this->callText('upwatch_prometheus');
    }

    /** @return array{shared: bool, runs_checks: bool, started: bool} */
    public function info(): array
    {
        return $this->call('upwatch_info');
    }

    /**
     * The JSON text the library hands out, unchanged (for HTTP endpoints: decoding to PHP
     * arrays and encoding again would turn empty objects into empty lists). $what is one
     * of status, history, changes, uptime, host, info, incidents, incident_stats, alerting,
     * pending_alerts, alerts_report, readiness.
     *
     * @param array<string, mixed> $query for history, changes, uptime, incidents and
     *        incident_stats; for readiness, the list of services (empty: every service)
     */
    public function json(string $what, array $query = [], string $window = '30d'): string
    {
        $q = self::encode($query === [] ? null : $query);
        switch ($what) {
            case 'status':
                return $this->callText('upwatch_status');
            case 'history':
                return $this->callText('upwatch_history', $q);
            case 'changes':
                return $this->callText('upwatch_status_changes', $q);
            case 'uptime':
                return $this->callText('upwatch_uptime', $q, $window);
            case 'host':
                return $this->callText('upwatch_host');
            case 'info':
                return $this->callText('upwatch_info');
            case 'incidents':
                return $this->callText('upwatch_incidents', $q);
            case 'incident_stats':
                return $this->callText('upwatch_incident_stats', $q, $window);
            case 'alerting':
                return $this->callText('upwatch_alerting');
            case 'pending_alerts':
                return $this->callText('upwatch_pending_alerts');
            case 'alerts_report':
                return $this->callText('upwatch_alerts_report');
            case 'readiness':
                return $this->callText('upwatch_readiness', $query === [] ? null : self::encode(array_values($query)));
        }
        throw new \InvalidArgumentException("json(): unknown {$what}");
    }

    /** Starts scheduling the checks (on the engine's own threads). */
    public function start(): void
    {
        $this->check($this->ffi->upwatch_start($this->handle()));
    }

    /**
     * The next event, waiting up to $timeoutMs (0: only look; negative: until one comes);
     * null when none came in time or the monitor is shut down.
     *
     * @return array<string, mixed>|null
     */
    public function nextEvent(int $timeoutMs = 0): ?array
    {
        $out = $this->ffi->new('char*');
        $rc = $this->ffi->upwatch_next_event($this->handle(), $timeoutMs, FFI::addr($out));
        if ($rc === UpwatchException::TIMEOUT || $rc === UpwatchException::CLOSED) {
            return null;
        }
        $this->check($rc);
        return self::decode($this->take($out));
    }

    /**
     * Events from the monitor's queue (it listens from the moment the engine is built), as
     * a generator that ends when no event comes within $timeoutMs (0: drain what is
     * queued; negative: never, until the monitor is shut down) or after $limit events.
     *
     * @return Generator<int, array<string, mixed>>
     */
    public function events(int $timeoutMs = 0, ?int $limit = null): Generator
    {
        $n = 0;
        while ($limit === null || $n < $limit) {
            $event = $this->nextEvent($timeoutMs);
            if ($event === null) {
                return;
            }
            $n++;
            yield $event;
        }
    }

    /**
     * Stops scheduling, waits up to $graceMs for checks in flight, writes pending history.
     * Later calls throw ClosedException.
     */
    public function shutdown(int $graceMs = 5000): void
    {
        if ($this->handle !== null) {
            $this->check($this->ffi->upwatch_shutdown($this->handle, $graceMs));
        }
    }

    /** Shuts the engine down (if it runs) and releases it. Called on destruction too. */
    public function close(): void
    {
        if ($this->handle !== null) {
            $handle = $this->handle;
            $this->handle = null;
            $this->check($this->ffi->upwatch_free($handle));
        }
        $this->released = true;
    }

    public function __destruct()
    {
        if ($this->handle !== null) {
            $this->ffi->upwatch_free($this->handle);
            $this->handle = null;
        }
    }

    /** Strings the library handed out and PHP has not freed yet (a diagnostic for tests). */
    public function stringsOutstanding(): int
    {
        $n = $this->ffi->new('size_t');
        $this->check($this->ffi->upwatch_strings_outstanding(FFI::addr($n)));
        return (int) $n->cdata;
    }

    /**
     * Calls upwatch_$name(handle, ...$args, &out) and decodes the JSON it hands out.
     *
     * @param mixed ...$args
     * @return array<mixed>
     */
    private function call(string $function, ...$args): array
    {
        return self::decode($this->callText($function, ...$args));
    }

    /**
     * Calls upwatch_$name(handle, ...$args, &removed) and returns the bool it writes.
     *
     * @param mixed ...$args
     */
    private function callBool(string $function, ...$args): bool
    {
        $out = $this->ffi->new('bool');
        $this->check($this->ffi->$function($this->handle(), ...[...$args, FFI::addr($out)]));
        return (bool) $out->cdata;
    }

    /** @param mixed ...$args */
    private function callText(string $function, ...$args): string
    {
        $out = $this->ffi->new('char*');
        $this->check($this->ffi->$function($this->handle(), ...[...$args, FFI::addr($out)]));
        return $this->take($out);
    }

    /** The text of a string the library handed out, which it then frees. */
    private function take(CData $out): string
    {
        if (FFI::isNull($out)) {
            return 'null';
        }
        try {
            return FFI::string($out);
        } finally {
            $this->ffi->upwatch_string_free($out);
        }
    }

    private function check(int $result): void
    {
        if ($result === UpwatchException::OK) {
            return;
        }
        $out = $this->ffi->new('char*');
        $error = null;
        if ($this->ffi->upwatch_last_error_json(FFI::addr($out)) === UpwatchException::OK) {
            $error = json_decode($this->take($out), true);
        }
        throw UpwatchException::fromResult($result, is_array($error) ? $error : null);
    }

    /** @param mixed $value */
    private static function encode($value): ?string
    {
        if ($value === null) {
            return null;
        }
        return json_encode($value, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION);
    }

    /** @return mixed */
    private static function decode(string $json)
    {
        return json_decode($json, true, 512, JSON_THROW_ON_ERROR);
    }
}
