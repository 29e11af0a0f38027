<?php

declare(strict_types=1);

namespace Upwatch;

use FFI;

/**
 * Loads libupwatch once per process through FFI::cdef on the flattened header
 * (upwatch.ffi.h: PHP's FFI parser has no preprocessor).
 *
 * Where the library is looked for, in order: the path given (Monitor option "library",
 * Laravel config upwatch.library), the environment variable UPWATCH_LIB, a lib/ folder next
 * to this package, the repository's target/release and target/debug (when the package is
 * used from a checkout), then the system's library path (libupwatch.so).
 */
final class Library
{
    /** @var array<string, FFI> */
    private static array $loaded = [];

    public static function ffi(?string $path = null): FFI
    {
        $path = $path ?? self::find();
        if (isset(self::$loaded[$path])) {
            return self::$loaded[$path];
        }
        if (!extension_loaded('ffi')) {
            throw new LibraryException(
                'upwatch needs PHP\'s FFI extension: install it (Debian: php-cli includes it) and enable it'
                . ' with ffi.enable=1 in php.ini (ffi.enable=preload only works in the CLI and preloaded scripts;'
                . ' php-fpm needs ffi.enable=1)'
            );
        }
        $header = file_get_contents(self::header());
        try {
            $ffi = FFI::cdef($header, $path);
        } catch (\Throwable $e) {
            throw new LibraryException(
                "could not load libupwatch from {$path}: {$e->getMessage()}. Set the environment variable"
                . ' UPWATCH_LIB (or the Monitor option "library", or config upwatch.library in Laravel) to the path'
                . ' of libupwatch.so (built by `cargo build -p upwatch-c --release` in target/release/), and check'
                . ' that ffi.enable=1 (php -i | grep ffi.enable; ffi.enable=preload only works in the CLI)',
                0,
                'library',
                null,
                [],
                $e
            );
        }
        return self::$loaded[$path] = $ffi;
    }

    /** The flattened header shipped with the package. */
    public static function header(): string
    {
        return dirname(__DIR__) . '/upwatch.ffi.h';
    }

    /** The library path the search order above finds (the bare soname when none is found on disk). */
    public static function find(): string
    {
        $env = getenv('UPWATCH_LIB');
        if (is_string($env) && $env !== '') {
            return $env;
        }
        $package = dirname(__DIR__);
        foreach (
            [
                $package . '/lib/libupwatch.so',
                dirname($package, 2) . '/target/release/libupwatch.so',
                dirname($package, 2) . '/target/debug/libupwatch.so',
            ] as $candidate
        ) {
            if (is_file($candidate)) {
                return $candidate;
            }
        }
        return 'libupwatch.so';
    }
}
