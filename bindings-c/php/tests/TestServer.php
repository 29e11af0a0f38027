<?php

declare(strict_types=1);

namespace Upwatch\Tests;

/**
 * The loopback HTTP target of the tests: UPWATCH_TEST_BASE_URL when the test script gives
 * one, otherwise the repository's testbed binary (`upwatch-testbed http`), started once.
 */
final class TestServer
{
    private static ?string $base = null;
    /** @var resource|null */
    private static $process = null;

    public static function base(): string
    {
        if (self::$base !== null) {
            return self::$base;
        }
        $env = getenv('UPWATCH_TEST_BASE_URL');
        if (is_string($env) && $env !== '') {
            return self::$base = rtrim($env, '/');
        }
        $bin = dirname(__DIR__, 3) . '/target/debug/upwatch-testbed';
        if (!is_executable($bin)) {
            throw new \RuntimeException("no test server: set UPWATCH_TEST_BASE_URL or build {$bin}");
        }
        self::$process = proc_open([$bin, 'http'], [1 => ['pipe', 'w']], $pipes);
        $line = fgets($pipes[1]);
        register_shutdown_function(static function (): void {
            if (self::$process !== null) {
                proc_terminate(self::$process);
            }
        });
        return self::$base = rtrim(trim((string) $line), '/');
    }

    public static function tempDir(): string
    {
        $dir = sys_get_temp_dir() . '/upwatch-php-' . bin2hex(random_bytes(6));
        mkdir($dir);
        return $dir;
    }

    public static function remove(string $dir): void
    {
        foreach (glob("{$dir}/*") ?: [] as $file) {
            unlink($file);
        }
        @rmdir($dir);
    }

    /**
     * Calls $get until $done accepts its value (history is written in batches), for about
     * five seconds; returns the last value either way, for the test's own assertion.
     */
    public static function eventually(callable $get, callable $done)
    {
        for ($i = 0; $i < 500; $i++) {
            $value = $get();
            if ($done($value)) {
                return $value;
            }
            usleep(10000);
        }
        return $value;
    }
}
