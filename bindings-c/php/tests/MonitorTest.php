<?php

declare(strict_types=1);

namespace Upwatch\Tests;

use PHPUnit\Framework\TestCase;
use Upwatch\ClosedException;
use Upwatch\DuplicateCheckException;
use Upwatch\EngineException;
use Upwatch\ForwardedException;
use Upwatch\HostException;
use Upwatch\InvalidArgumentException;
use Upwatch\Library;
use Upwatch\LibraryException;
use Upwatch\MissingCallableException;
use Upwatch\Monitor;
use Upwatch\NotAPushCheckException;
use Upwatch\PanicException;
use Upwatch\SpecException;
use Upwatch\StoreException;
use Upwatch\UnknownCheckException;
use Upwatch\UpwatchException;

final class MonitorTest extends TestCase
{
    private string $dir;
    private ?Monitor $m = null;

    protected function setUp(): void
    {
        $this->dir = TestServer::tempDir();
    }

    protected function tearDown(): void
    {
        if ($this->m !== null) {
            $this->m->close();
            $this->m = null;
        }
        TestServer::remove($this->dir);
    }

    private function monitor(array $config = []): Monitor
    {
        return $this->m = new Monitor($config + ['host_interval' => 'off']);
    }

    private function httpChecks(): array
    {
        $base = TestServer::base();
        return [
            ['name' => 'health', 'service' => 'api', 'kind' => 'http', 'url' => "{$base}/health", 'interval' => '1h'],
            ['name' => 'broken', 'service' => 'api', 'kind' => 'http', 'url' => "{$base}/status/500", 'interval' => '1h'],
        ];
    }

    public function testEveryCallAgainstALoopbackServer(): void
    {
        $m = $this->monitor(['db' => "{$this->dir}/h.db"]);
        $m->register($this->httpChecks());
        $m->register(['name' => 'beat', 'kind' => 'push', 'interval' => '1h']);

        $results = $m->runNow(['health', 'broken']);
        $by = array_column($results, 'status', 'check');
        $this->assertSame(['health' => 'up', 'broken' => 'down'], [
            'health' => $by['health'],
            'broken' => $by['broken'],
        ]);
        $this->assertSame('up', $m->runNow('health')[0]['status']);
        $this->assertCount(3, $m->runNow());

        $this->assertSame('up', $m->push('beat')['status']);
        $failed = $m->push('beat', false, 'backup failed');
        $this->assertSame('down', $failed['status']);
        $this->assertStringContainsString('backup failed', $failed['error']['message']);
        $recorded = $m->record('beat', true, 812.5, 'from traffic');
        $this->assertSame(812.5, $recorded['duration_ms']);

        $m->pause('health');
        $paused = array_column($m->status()['checks'], 'paused', 'check');
        $this->assertTrue($paused['health']);
        $m->resume('health');
        $m->update(['name' => 'health', 'service' => 'api', 'kind' => 'http',
            'url' => TestServer::base() . '/health', 'interval' => '2h']);

        $status = $m->status();
        $this->assertSame(['beat', 'broken', 'health'], $this->sorted(array_column($status['checks'], 'check')));
        // One of the service's two checks is down.
        $this->assertSame('degraded', array_column($status['services'], 'status', 'service')['api']);

        $page = TestServer::eventually(fn () => $m->history(['check' => 'broken', 'since' => '1h']), fn ($p) => count($p['items']) > 0);
        $this->assertSame('down', $page['items'][0]['status']);
        $this->assertArrayHasKey('next_cursor', $page);
        $this->assertNotEmpty($m->changes(['check' => ['broken', 'beat']])['items']);
        $uptime = $m->uptime(['check' => 'health'], '24h');
        $this->assertSame('24h', $uptime['window']);
        $this->assertSame(100.0, (float) $uptime['checks'][0]['uptime_pct']);
        $this->assertSame('30d', $m->uptime()['window']);
        $this->assertArrayHasKey('cpu_pct', $m->host());
        $this->assertStringContainsString('upwatch_check_up{check="broken"', $m->prometheus());
        $this->assertFalse($m->info()['started']);
        $m->start();
        $this->assertTrue($m->info()['started']);
        $this->assertJson($m->json('status'));

        $m->delete('broken');
        $this->assertNotContains('broken', array_column($m->status()['checks'], 'check'));
        $m->shutdown(2000);
        $this->expectException(ClosedException::class);
        $m->status();
    }

    public function testEventsComeFromTheQueue(): void
    {
        $m = $this->monitor(['checks' => [['name' => 'beat', 'kind' => 'push', 'interval' => '1h']]]);
        $this->assertSame([], iterator_to_array($m->events(0)));
        $m->push('beat', false, 'late');
        $kinds = [];
        foreach ($m->events(2000) as $event) {
            $kinds[] = $event['event'];
            if (in_array('check_status_changed', $kinds, true)) {
                break;
            }
        }
        $this->assertContains('check_failed', $kinds);
        $this->assertContains('check_status_changed', $kinds);
        $m->push('beat');
        do {
            $event = $m->nextEvent(2000);
        } while ($event !== null && $event['event'] !== 'check_succeeded');
        $this->assertSame('beat', $event['check']);
        $this->assertCount(1, iterator_to_array($m->events(2000, 1)));
        $m->shutdown(1000);
        $this->assertNull($m->nextEvent(-1)); // closed: never a hang
    }

    public function testBadConfigsAndSpecsNameTheirFields(): void
    {
        try {
            new Monitor(['lease' => 'soon', 'host_intervl' => '5s']);
            $this->fail('no exception');
        } catch (SpecException $e) {
            $this->assertSame('spec', $e->getKind());
            $this->assertSame(UpwatchException::INVALID_SPEC, $e->getCode());
            $paths = array_column($e->getProblems(), 'path');
            $this->assertContains('lease', $paths);
            $this->assertContains('host_intervl', $paths);
        }
        $m = $this->monitor();
        try {
            $m->register([['name' => 'a', 'kind' => 'push', 'interval' => '1m'], ['name' => 'b', 'kind' => 'http', 'url' => 'nope']]);
            $this->fail('no exception');
        } catch (SpecException $e) {
            $this->assertSame('[1].url', $e->getPath());
        }
        $this->assertSame([], $m->status()['checks']);
    }

    public function testEachFailureHasItsException(): void
    {
        $m = $this->monitor(['checks' => [['name' => 'beat', 'kind' => 'push', 'interval' => '1h']]]);
        $m->register($this->httpChecks());
        $cases = [
            [UnknownCheckException::class, fn () => $m->pause('nope')],
            [UnknownCheckException::class, fn () => $m->runNow(['nope'])],
            [NotAPushCheckException::class, fn () => $m->push('health')],
            [InvalidArgumentException::class, fn () => $m->history(['limit' => 0])],
            [InvalidArgumentException::class, fn () => $m->uptime([], 'forever')],
            [InvalidArgumentException::class, fn () => $m->record('beat', true, -1.0)],
            [MissingCallableException::class, fn () => $m->register(['name' => 'fn', 'kind' => 'callable', 'interval' => '1m'])],
            [StoreException::class, fn () => new Monitor(['db' => '/nonexistent/dir/upwatch.db'])],
        ];
        foreach ($cases as [$class, $call]) {
            try {
                $call();
                $this->fail("{$class}: no exception");
            } catch (UpwatchException $e) {
                $this->assertInstanceOf($class, $e, $e->getMessage());
            }
        }
        try {
            $m->history(['limit' => 5000]);
        } catch (InvalidArgumentException $e) {
            $this->assertSame('limit', $e->getPath());
        }
        $m->close();
        $this->expectException(ClosedException::class);
        $m->status();
    }

    public function testAPanicInsideTheLibraryBecomesAnException(): void
    {
        $ffi = Library::ffi();
        $rc = $ffi->upwatch_test_panic();
        $this->assertSame(UpwatchException::PANIC, $rc);
        $out = $ffi->new('char*');
        $ffi->upwatch_last_error_json(\FFI::addr($out));
        $error = json_decode(\FFI::string($out), true);
        $ffi->upwatch_string_free($out);
        $e = UpwatchException::fromResult($rc, $error);
        $this->assertInstanceOf(PanicException::class, $e);
        $this->assertStringContainsString('upwatch_test_panic', $e->getMessage());
        $this->assertSame('upwatch_test_panic was called', substr($ffi->upwatch_last_error(), -29));
    }

    public function testEveryResultCodeMapsToItsException(): void
    {
        $expected = [
            UpwatchException::INVALID_HANDLE => ClosedException::class,
            UpwatchException::INVALID_JSON => SpecException::class,
            UpwatchException::INVALID_SPEC => SpecException::class,
            UpwatchException::INVALID_ARGUMENT => InvalidArgumentException::class,
            UpwatchException::UNKNOWN_CHECK => UnknownCheckException::class,
            UpwatchException::DUPLICATE_CHECK => DuplicateCheckException::class,
            UpwatchException::NOT_A_PUSH_CHECK => NotAPushCheckException::class,
            UpwatchException::MISSING_CALLABLE => MissingCallableException::class,
            UpwatchException::STORE => StoreException::class,
            UpwatchException::FORWARDED => ForwardedException::class,
            UpwatchException::HOST => HostException::class,
            UpwatchException::CLOSED => ClosedException::class,
            UpwatchException::PANIC => PanicException::class,
            UpwatchException::RUNTIME => EngineException::class,
            UpwatchException::NULL_ARGUMENT => UpwatchException::class,
        ];
        foreach ($expected as $code => $class) {
            $e = UpwatchException::fromResult($code, ['message' => 'm', 'code' => 'k', 'path' => 'p', 'problems' => []]);
            $this->assertSame($class, get_class($e), "result {$code}");
            $this->assertSame($code, $e->getCode());
            $this->assertSame('p', $e->getPath());
        }
    }

    public function testALazyMonitorBuildsItsEngineOnFirstUse(): void
    {
        $this->m = new Monitor(['host_interval' => 'off'], ['lazy' => true]);
        $this->assertFalse($this->m->isLive());
        $this->assertSame([], $this->m->status()['checks']);
        $this->assertTrue($this->m->isLive());
    }

    public function testAConfigFile(): void
    {
        file_put_contents("{$this->dir}/upwatch.toml", "[monitor]\nhost_interval = \"off\"\n\n[[checks]]\nname = \"beat\"\nkind = \"push\"\ninterval = \"1m\"\n");
        $this->m = Monitor::fromFile("{$this->dir}/upwatch.toml");
        $this->assertSame('up', $this->m->push('beat')['status']);
        $this->expectException(SpecException::class);
        Monitor::fromFile("{$this->dir}/missing.toml");
    }

    public function testAMissingLibrarySaysWhatToSet(): void
    {
        try {
            Library::ffi('/nonexistent/libupwatch.so');
            $this->fail('no exception');
        } catch (LibraryException $e) {
            $this->assertStringContainsString('UPWATCH_LIB', $e->getMessage());
            $this->assertStringContainsString('ffi.enable', $e->getMessage());
        }
    }

    public function testAlertsAreServedToPhpNotifiers(): void
    {
        $m = $this->monitor([
            'services' => [['name' => 'jobs']],
            'checks' => [['name' => 'beat', 'kind' => 'push', 'interval' => '1h', 'service' => 'jobs']],
        ]);
        $pager = new RecordingNotifier(1);
        $m->addNotifier(['name' => 'pager', 'kind' => 'callable', 'backoff' => '50ms', 'max_attempts' => 5], $pager);
        $m->addNotifier(['name' => 'hook', 'kind' => 'webhook', 'url' => 'http://127.0.0.1:9/hook-secret-path',
            'secret' => 's3cret-value', 'max_attempts' => 1]);
        try {
            $m->addAlert(['name' => 'x', 'notify' => ['nobody']]);
            $this->fail('no exception');
        } catch (SpecException $e) {
            $this->assertSame('notify[0]', $e->getPath());
        }
        try {
            $m->addNotifier(['name' => 'p', 'kind' => 'callable']);
            $this->fail('no exception');
        } catch (InvalidArgumentException $e) {
            $this->assertSame('fn', $e->getPath());
        }
        $m->addAlert(['name' => 'beat-down', 'checks' => ['beat'], 'for' => '0s', 'notify' => ['pager'],
            'send_resolved' => true]);
        $alerting = json_encode($m->alerting());
        $this->assertStringNotContainsString('s3cret-value', $alerting);
        $this->assertStringNotContainsString('hook-secret-path', $alerting);
        $this->assertSame(['hook', 'pager'], array_column($m->alerting()['notifiers'], 'name'));
        $this->assertSame(['beat-down'], array_column($m->alerting()['rules'], 'name'));
        iterator_to_array($m->events(0));

        $m->start();
        $m->push('beat', false, 'missed');
        // The first send() throws (a failed attempt), the retry 50 ms later is delivered.
        for ($i = 0; $i < 40 && count($pager->alerts) < 2; $i++) {
            $m->serveNotifiers(0.25);
        }
        $this->assertCount(2, $pager->alerts);
        [$first, $retry] = $pager->alerts;
        $this->assertSame(['beat-down', 'beat', 'down'], [$first['rule'], $first['check'], $first['kind']]);
        $this->assertSame($first['id'], $retry['id']);
        $failed = null;
        foreach ($m->events(2000) as $event) {
            if ($event['event'] === 'alert_delivery_failed' && $event['notifier'] === 'pager') {
                $failed = $event;
                break;
            }
        }
        $this->assertNotNull($failed);
        $this->assertStringContainsString('pager offline', $failed['error']);
        $this->assertFalse($failed['gave_up']);
        $counters = TestServer::eventually(fn () => $m->status()['alerts'], fn ($a) => $a['delivered'] >= 1);
        $this->assertGreaterThanOrEqual(1, $counters['attempts_failed']);
        $this->assertSame(0, $m->serveNotifiers(0));

        // Back up: the resolved alert, then one resolved incident.
        $m->push('beat', true);
        for ($i = 0; $i < 40 && count($pager->alerts) < 3; $i++) {
            $m->serveNotifiers(0.25);
        }
        $this->assertSame('resolved', $pager->alerts[2]['kind'] ?? null);
        $page = TestServer::eventually(fn () => $m->incidents(['check' => 'beat']),
            fn ($p) => count($p['items']) === 1 && !$p['items'][0]['open']);
        $this->assertCount(1, $page['items']);
        $this->assertFalse($page['items'][0]['open']);
        $this->assertGreaterThan(0, $page['items'][0]['duration_ms']);
        $this->assertSame($page['items'][0]['id'], $pager->alerts[2]['incident']);
        $this->assertSame(1, $m->incidentStats(['check' => 'beat'], '1h')[0]['incidents']);
        $this->assertSame(['ready' => true, 'services' => ['jobs' => 'up']], $m->readiness());
        $this->assertSame(['ready' => true, 'services' => ['ghost' => 'unknown', 'jobs' => 'up']], $m->readiness(['jobs', 'ghost']));

        // Muted: held back, nothing to serve.
        $m->mute('beat', '30m');
        $this->assertSame('beat', $m->alerting()['mutes'][0]['target']);
        $held = $m->status()['alerts']['held'];
        $m->push('beat', false, 'muted');
        TestServer::eventually(fn () => $m->status()['alerts']['held'], fn ($h) => $h > $held);
        $this->assertGreaterThan($held, $m->status()['alerts']['held']);
        $this->assertSame(0, $m->serveNotifiers(0.3));
        $m->unmute('beat');
        $this->assertSame([], $m->alerting()['mutes']);
        $report = $m->alertsReport();
        $this->assertSame($m->alerting(), $report['alerting']);
        $this->assertSame($m->status()['alerts'], $report['status']);
        $this->assertSame([], $report['pending']);

        $m->addMaintenance(['name' => 'nightly', 'weekdays' => ['sun'], 'start' => '02:00', 'end' => '02:30',
            'timezone' => 'Europe/Paris']);
        $this->assertSame('Europe/Paris', $m->alerting()['maintenance'][0]['schedule']['timezone']);
        $this->assertTrue($m->removeMaintenance('nightly'));
        $this->assertFalse($m->removeMaintenance('nightly'));
        $this->assertTrue($m->removeAlert('beat-down'));
        $this->assertTrue($m->removeNotifier('hook'));
        $this->assertFalse($m->removeNotifier('hook'));
        $this->assertIsArray($m->pendingAlerts());
        $this->assertSame(0, $m->stringsOutstanding());
    }

    public function testAnAlertNobodyServesTimesOutAndBadArgumentsNameTheirField(): void
    {
        $m = $this->monitor(['checks' => [['name' => 'beat', 'kind' => 'push', 'interval' => '1h']]]);
        $m->addNotifier(['name' => 'slow', 'kind' => 'callable', 'timeout' => '200ms', 'max_attempts' => 1],
            new RecordingNotifier());
        $m->addAlert(['name' => 'any', 'for' => '0s', 'notify' => ['slow']]);
        $m->start();
        $m->push('beat', false);
        $next = $m->nextAlert('slow', 5000);
        $this->assertSame('slow', $next['notifier']);
        $this->assertSame('beat', $next['alert']['check']);
        TestServer::eventually(fn () => $m->status()['alerts']['failed'], fn ($n) => $n >= 1);
        $this->assertSame('timeout', $m->status()['alerts']['last_failure']['error']);
        try {
            $m->alertDone($next['delivery_id'], true);
            $this->fail('no exception');
        } catch (InvalidArgumentException $e) {
            $this->assertSame('delivery_id', $e->getPath());
        }
        foreach ([
            'duration' => fn () => $m->mute('beat', 'a while'),
            'window' => fn () => $m->incidentStats([], 'forever'),
            'limit' => fn () => $m->incidents(['limit' => 0]),
        ] as $field => $call) {
            try {
                $call();
                $this->fail("no exception for {$field}");
            } catch (InvalidArgumentException $e) {
                $this->assertSame($field, $e->getPath());
            }
        }
        $this->expectException(SpecException::class);
        $m->addMaintenance(['name' => 'w', 'weekdays' => ['someday']]);
    }

    public function testEveryStringHandedOutIsFreed(): void
    {
        $m = $this->monitor(['checks' => [['name' => 'beat', 'kind' => 'push', 'interval' => '1h']]]);
        $m->push('beat');
        $m->status();
        $m->prometheus();
        iterator_to_array($m->events(100));
        try {
            $m->pause('nope');
        } catch (UnknownCheckException $e) {
        }
        $this->assertSame(0, $m->stringsOutstanding());
    }

    private function sorted(array $list): array
    {
        sort($list);
        return $list;
    }

    /** Calls $get until $done accepts its value (history is written in batches, off the hot path). */
    public function testAMuteAskedOfAnotherWorkerOnTheFileFlagsResultsAndServicesHaveIncidents(): void
    {
        // Two php-fpm workers on one database: one holds the scheduler lease.
        $config = ['db' => "{$this->dir}/shared.db", 'lease' => '1s', 'host_interval' => 'off',
            'checks' => [['name' => 'beat', 'service' => 'jobs', 'kind' => 'push', 'interval' => '1h']]];
        $holder = $this->m = new Monitor($config);
        $holder->start();
        $this->assertTrue(TestServer::eventually(fn () => $holder->info()['runs_checks'], fn ($v) => $v));
        $other = new Monitor($config);
        try {
            $other->start();
            usleep(500000);
            $this->assertFalse($other->info()['runs_checks']);

            // Asked of the worker without the lease; held where the checks run once it returns.
            $other->mute('jobs', '1h');
            $this->assertSame('jobs', $holder->alerting()['mutes'][0]['target']);
            $down = $holder->push('beat', false, 'nightly job failed');
            $this->assertTrue($down['maintenance'] ?? false);
            $stored = TestServer::eventually(fn () => $other->history(['check' => 'beat'])['items'], fn ($i) => count($i) === 1);
            $this->assertTrue($stored[0]['maintenance'] ?? false);

            // The service went down with its check: an incident of its own.
            $service = fn () => array_values(array_filter($other->incidents(['service' => 'jobs'])['items'],
                fn ($i) => $i['scope'] === 'service'));
            $open = TestServer::eventually($service, fn ($l) => count($l) === 1);
            $this->assertCount(1, $open);
            $this->assertTrue($open[0]['open']);
            $this->assertSame('beat', $open[0]['check']);
            $this->assertStringStartsWith('service:jobs@', $open[0]['id']);

            $other->unmute('jobs');
            $this->assertSame([], $holder->alerting()['mutes']);
            $up = $holder->push('beat');
            $this->assertArrayNotHasKey('maintenance', $up);
            $closed = TestServer::eventually($service, fn ($l) => count($l) === 1 && !$l[0]['open']);
            $this->assertFalse($closed[0]['open']);
            $this->assertSame(['down', 'up'], array_column($closed[0]['changes'], 'status'));
        } finally {
            $other->close();
        }
    }
}
