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
     * of status, history, changes, uptime, host, info.
     *
     * @param array<string, mixed> $query for history, changes and uptime
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
