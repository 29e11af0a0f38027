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

        $page = $this->eventually(fn () => $m->history(['check' => 'broken', 'since' => '1h']), fn ($p) => count($p['items']) > 0);
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
    private function eventually(callable $get, callable $done)
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
