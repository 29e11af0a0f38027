<?php

// PHP (FFI) figures: status() with 1,000 checks, and checks/s through upwatch run_now vs
// PHP's own curl on the same loopback URLs.
//   php -d ffi.enable=1 bench.php status [calls]
//   php -d ffi.enable=1 bench.php checks BASE_URL [urls] [rounds]

declare(strict_types=1);

require __DIR__ . '/../../bindings-c/php/tests/bootstrap.php';

use Upwatch\Monitor;

$what = $argv[1] ?? 'status';

if ($what === 'status') {
    $calls = (int) ($argv[2] ?? 2000);
    $m = new Monitor(['host_interval' => 'off']);
    $specs = [];
    for ($i = 0; $i < 1000; $i++) {
        $specs[] = ['name' => sprintf('push-%04d', $i), 'kind' => 'push', 'interval' => '1h'];
    }
    $m->register($specs);
    foreach ($specs as $s) {
        $m->push($s['name']);
    }
    for ($i = 0; $i < intdiv($calls, 10); $i++) {
        $m->status();
    }
    $t = hrtime(true);
    for ($i = 0; $i < $calls; $i++) {
        $m->json('status');
    }
    printf("php/status_1000_checks_json: %.1f us/call (FFI call + copy of the JSON text)\n", (hrtime(true) - $t) / 1e3 / $calls);
    $t = hrtime(true);
    for ($i = 0; $i < $calls; $i++) {
        $m->status();
    }
    printf("php/status_1000_checks: %.1f us/call (decoded to PHP arrays)\n", (hrtime(true) - $t) / 1e3 / $calls);
    $host = intdiv($calls, 4);
    $t = hrtime(true);
    for ($i = 0; $i < $host; $i++) {
        $m->host();
    }
    printf("php/host: %.1f us/call\n", (hrtime(true) - $t) / 1e3 / $host);
    $m->close();
    exit(0);
}

$base = rtrim($argv[2], '/');
$n = (int) ($argv[3] ?? 100);
$rounds = (int) ($argv[4] ?? 20);
$urls = [];
for ($i = 0; $i < $n; $i++) {
    $urls[] = "{$base}/health?u={$i}";
}

// upwatch: the same URLs as http checks, all run at once per round.
$m = new Monitor(['host_interval' => 'off', 'max_concurrency' => $n, 'max_per_host' => $n]);
$m->register(array_map(static fn ($u, $i) => ['name' => "u{$i}", 'kind' => 'http', 'url' => $u, 'interval' => '1h'], $urls, array_keys($urls)));
$m->runNow();
$t = hrtime(true);
$up = 0;
for ($r = 0; $r < $rounds; $r++) {
    foreach ($m->runNow() as $result) {
        $up += $result['status'] === 'up' ? 1 : 0;
    }
}
$s = (hrtime(true) - $t) / 1e9;
printf("php/upwatch_run_now: %.0f checks/s (%d checks, %d up, %.3f s)\n", $n * $rounds / $s, $n * $rounds, $up, $s);
$m->close();

// PHP's curl_multi: all URLs concurrently per round, a 200 status counts as up.
$t = hrtime(true);
$up = 0;
for ($r = 0; $r < $rounds; $r++) {
    $mh = curl_multi_init();
    $handles = [];
    foreach ($urls as $u) {
        $h = curl_init($u);
        curl_setopt_array($h, [CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10]);
        curl_multi_add_handle($mh, $h);
        $handles[] = $h;
    }
    do {
        $status = curl_multi_exec($mh, $active);
        if ($active) {
            curl_multi_select($mh, 1.0);
        }
    } while ($active && $status === CURLM_OK);
    foreach ($handles as $h) {
        $up += curl_getinfo($h, CURLINFO_RESPONSE_CODE) === 200 ? 1 : 0;
        curl_multi_remove_handle($mh, $h);
        curl_close($h);
    }
    curl_multi_close($mh);
}
$s = (hrtime(true) - $t) / 1e9;
printf("php/curl_multi: %.0f checks/s (%d checks, %d up, %.3f s)\n", $n * $rounds / $s, $n * $rounds, $up, $s);

// Sequential curl with one reused handle (keep-alive), the simplest PHP check loop.
$t = hrtime(true);
$up = 0;
$h = curl_init();
curl_setopt_array($h, [CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10]);
for ($r = 0; $r < $rounds; $r++) {
    foreach ($urls as $u) {
        curl_setopt($h, CURLOPT_URL, $u);
        curl_exec($h);
        $up += curl_getinfo($h, CURLINFO_RESPONSE_CODE) === 200 ? 1 : 0;
    }
}
curl_close($h);
$s = (hrtime(true) - $t) / 1e9;
printf("php/curl_sequential: %.0f checks/s (%d checks, %d up, %.3f s)\n", $n * $rounds / $s, $n * $rounds, $up, $s);
