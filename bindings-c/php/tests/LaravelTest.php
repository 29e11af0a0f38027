<?php

declare(strict_types=1);

namespace Upwatch\Tests;

use Illuminate\Contracts\Console\Kernel as ConsoleKernel;
use Illuminate\Contracts\Events\Dispatcher;
use Illuminate\Contracts\Http\Kernel as HttpKernel;
use Illuminate\Foundation\Application;
use Illuminate\Http\Request;
use PHPUnit\Framework\TestCase;
use Upwatch\Laravel\EventPump;
use Upwatch\Laravel\Events\CheckFailed;
use Upwatch\Laravel\Events\CheckStatusChanged;
use Upwatch\Laravel\Events\ServiceStatusChanged;
use Upwatch\Laravel\Events\UpwatchEvent;
use Upwatch\Laravel\Facades\Upwatch;
use Upwatch\Monitor;

/**
 * The example app (examples/laravel, on Debian's packaged Laravel) with the upwatch
 * provider: routes answered through the HTTP kernel, artisan commands' exit codes, Laravel
 * events from the engine's queue. Each test has its own app and SQLite file.
 */
final class LaravelTest extends TestCase
{
    private string $dir;
    private ?Application $app = null;

    protected function setUp(): void
    {
        if (!class_exists(Application::class)) {
            $this->markTestSkipped('Laravel is not installed (apt-get install php-laravel-framework)');
        }
        $this->dir = TestServer::tempDir();
        putenv('UPWATCH_EXAMPLE_TARGET=' . TestServer::base());
        putenv("UPWATCH_DB={$this->dir}/upwatch.db");
        putenv('UPWATCH_EXAMPLE_TOKEN=staff-token');
        $this->app = require dirname(__DIR__, 3) . '/examples/laravel/bootstrap/app.php';
    }

    protected function tearDown(): void
    {
        if ($this->app !== null && $this->app->resolved(Monitor::class)) {
            $this->app->make(Monitor::class)->close();
        }
        $this->app = null;
        putenv('UPWATCH_EXAMPLE_TARGET');
        putenv('UPWATCH_DB');
        putenv('UPWATCH_EXAMPLE_TOKEN');
        TestServer::remove($this->dir);
    }

    private function get(string $uri, ?string $token = 'staff-token')
    {
        $kernel = $this->app->make(HttpKernel::class);
        $request = Request::create($uri);
        if ($token !== null) {
            $request->headers->set('Authorization', "Bearer {$token}");
        }
        $response = $kernel->handle($request);
        $kernel->terminate($request, $response);
        return $response;
    }

    public function testTheStatusRouteAnswersThroughTheKernel(): void
    {
        $response = $this->get('/upwatch/status');
        $this->assertSame(200, $response->getStatusCode());
        $this->assertSame('application/json', $response->headers->get('Content-Type'));
        $status = json_decode($response->getContent(), true);
        $names = array_column($status['checks'], 'check');
        sort($names);
        $this->assertSame(['errors', 'home', 'nightly-backup'], $names);
        // Nothing ran yet, and the engine was built by this request (lazily), not at boot.
        $this->assertTrue($this->app->make(Monitor::class)->isLive());
    }

    public function testTheEngineIsNotBuiltAtBoot(): void
    {
        $this->get('/');
        $this->assertFalse($this->app->resolved(Monitor::class) && $this->app->make(Monitor::class)->isLive());
    }

    public function testEndpointsNeedPermissionExceptTheOnesMadePublic(): void
    {
        $this->assertSame(403, $this->get('/upwatch/status', null)->getStatusCode());
        $this->assertSame(403, $this->get('/upwatch/status', 'wrong')->getStatusCode());
        $this->assertSame(200, $this->get('/upwatch/ready', null)->getStatusCode());
        // With the package's default (no rule, no Gate "viewUpwatch"), nobody may.
        $this->app['config']->set('upwatch.authorize', null);
        $this->assertSame(403, $this->get('/upwatch/status')->getStatusCode());
    }

    public function testHistoryChangesUptimeHostMetricsAndBadQueries(): void
    {
        $this->app->make(ConsoleKernel::class)->call('upwatch:check');
        $monitor = $this->app->make(Monitor::class);
        for ($i = 0; $i < 500 && count($monitor->history()['items']) < 3; $i++) {
            usleep(10000);
        }
        $page = json_decode($this->get('/upwatch/history?check=home,errors&limit=1')->getContent(), true);
        $this->assertCount(1, $page['items']);
        $this->assertNotNull($page['next_cursor']);
        $next = json_decode($this->get('/upwatch/history?check=home&check=errors&limit=1&cursor='
            . urlencode($page['next_cursor']))->getContent(), true);
        $this->assertCount(1, $next['items']);
        $this->assertNotSame($page['items'][0]['check'], $next['items'][0]['check']);
        $down = json_decode($this->get('/upwatch/history?status=down')->getContent(), true);
        $this->assertSame(['errors'], array_unique(array_column($down['items'], 'check')));

        $changes = json_decode($this->get('/upwatch/changes?service=backend')->getContent(), true);
        $this->assertSame('errors', $changes['items'][0]['check']);
        $uptime = json_decode($this->get('/upwatch/uptime?check=home&window=24h')->getContent(), true);
        $this->assertSame('24h', $uptime['window']);
        $this->assertSame('home', $uptime['checks'][0]['check']);
        $this->assertArrayHasKey('memory', json_decode($this->get('/upwatch/host')->getContent(), true));
        $metrics = $this->get('/upwatch/metrics');
        $this->assertSame('text/plain; version=0.0.4; charset=utf-8', $metrics->headers->get('Content-Type'));
        $this->assertStringContainsString('upwatch_check_up{check="errors"', $metrics->getContent());

        $bad = $this->get('/upwatch/history?limit=abc');
        $this->assertSame(400, $bad->getStatusCode());
        $error = json_decode($bad->getContent(), true)['error'];
        $this->assertSame(['invalid_argument', 'limit'], [$error['code'], $error['field']]);
        $this->assertSame('window', json_decode($this->get('/upwatch/uptime?window=forever')->getContent(), true)['error']['field']);
        $this->assertSame(400, $this->get('/upwatch/changes?status=sideways')->getStatusCode());
    }

    public function testReadyIsDownWhenAReadinessServiceIsDown(): void
    {
        $this->app->make(ConsoleKernel::class)->call('upwatch:check');
        $ready = $this->get('/upwatch/ready', null);
        $this->assertSame(200, $ready->getStatusCode());
        $this->assertSame(['ready' => true, 'services' => ['web' => 'up']], json_decode($ready->getContent(), true));
        $this->app['config']->set('upwatch.ready_services', null); // every service: backend is down
        $notReady = $this->get('/upwatch/ready', null);
        $this->assertSame(503, $notReady->getStatusCode());
        $body = json_decode($notReady->getContent(), true);
        $this->assertFalse($body['ready']);
        $this->assertSame('down', $body['services']['backend']);
    }

    public function testArtisanCheckExitsWithOneWhenACheckIsDown(): void
    {
        $artisan = $this->app->make(ConsoleKernel::class);
        $this->assertSame(1, $artisan->call('upwatch:check'));
        $this->assertStringContainsString('errors', $artisan->output());
        $this->assertSame(0, $artisan->call('upwatch:check', ['names' => ['home']]));
        $this->assertSame(2, $artisan->call('upwatch:check', ['names' => ['nope']]));
    }

    public function testArtisanRunStartsTheChecksAndStops(): void
    {
        $artisan = $this->app->make(ConsoleKernel::class);
        $this->assertSame(0, $artisan->call('upwatch:run', ['--for' => '0.5']));
        $output = $artisan->output(); // fetching empties the buffer
        $this->assertStringContainsString('3 checks', $output);
        $this->assertStringContainsString('upwatch: stopped', $output);
        // It shut the engine down on its way out (the history is written).
        $this->expectException(\Upwatch\ClosedException::class);
        $this->app->make(Monitor::class)->status();
    }

    public function testUpwatchEventsBecomeLaravelEvents(): void
    {
        $seen = [];
        $events = $this->app->make(Dispatcher::class);
        // Boot the app (providers) through a request that does not touch upwatch.
        $this->get('/');
        foreach ([CheckStatusChanged::class, ServiceStatusChanged::class, CheckFailed::class] as $class) {
            $events->listen($class, static function (UpwatchEvent $e) use (&$seen): void {
                $seen[] = [get_class($e), $e->name, $e->payload['check'] ?? $e->payload['service'] ?? null];
            });
        }
        // A route pushes; the events are dispatched when the request terminates.
        Upwatch::runNow(['errors']);
        $this->app->terminate();
        if ($seen === []) {
            // The engine publishes right after the run returns: wait for what is on its way.
            EventPump::drain($this->app->make(Monitor::class), $events, 2000, 3);
        }
        for ($i = 0; $i < 20 && count($seen) < 3; $i++) {
            EventPump::drain($this->app->make(Monitor::class), $events, 100);
        }
        $this->assertContains([CheckFailed::class, 'check_failed', 'errors'], $seen);
        $this->assertContains([CheckStatusChanged::class, 'check_status_changed', 'errors'], $seen);
        $this->assertContains([ServiceStatusChanged::class, 'service_status_changed', 'backend'], $seen);
    }

    public function testTheFacadeAndAPushRoute(): void
    {
        $kernel = $this->app->make(HttpKernel::class);
        $request = Request::create('/backup-done', 'POST');
        $response = $kernel->handle($request);
        $this->assertSame(200, $response->getStatusCode());
        $this->assertSame('up', json_decode($response->getContent(), true)['status']);
        $this->assertSame('up', array_column(Upwatch::status()['checks'], 'status', 'check')['nightly-backup']);
    }

    public function testIncidentsAndAlertsEndpoints(): void
    {
        $this->get('/'); // boots the app (its config) without building the engine
        $this->app['config']->set('upwatch.notifiers', [
            ['name' => 'log', 'kind' => 'callable', 'class' => RecordingNotifier::class],
            ['name' => 'ops', 'kind' => 'webhook', 'url' => 'http://127.0.0.1:9/hook-secret-path', 'secret' => 's3cret-value'],
        ]);
        $this->app->make(ConsoleKernel::class)->call('upwatch:check');
        $monitor = $this->app->make(Monitor::class);
        $page = TestServer::eventually(
            fn () => json_decode($this->get('/upwatch/incidents?check=errors')->getContent(), true),
            fn ($p) => count($p['items'] ?? []) > 0
        );
        $this->assertSame('errors', $page['items'][0]['check']);
        $this->assertTrue($page['items'][0]['open']);
        $this->assertArrayHasKey('next_cursor', $page);
        // Open: its duration grows, its id does not change.
        $this->assertSame(array_column($page['items'], 'id'), array_column($monitor->incidents(['check' => 'errors'])['items'], 'id'));
        $this->assertSame([], json_decode($this->get('/upwatch/incidents?service=web')->getContent(), true)['items']);
        $bad = $this->get('/upwatch/incidents?limit=abc');
        $this->assertSame(400, $bad->getStatusCode());
        $this->assertSame('limit', json_decode($bad->getContent(), true)['error']['field']);
        $this->assertSame(403, $this->get('/upwatch/incidents', null)->getStatusCode());

        $response = $this->get('/upwatch/alerts');
        $this->assertSame(200, $response->getStatusCode());
        $this->assertStringNotContainsString('s3cret-value', $response->getContent());
        $this->assertStringNotContainsString('hook-secret-path', $response->getContent());
        $alerts = json_decode($response->getContent(), true);
        $this->assertSame(['status', 'alerting', 'pending'], array_keys($alerts));
        $this->assertSame(['log', 'ops'], array_column($alerts['alerting']['notifiers'], 'name'));
        $this->assertSame(['backend down'], array_column($alerts['alerting']['rules'], 'name'));
        $this->assertSame('nightly deploys', $alerts['alerting']['maintenance'][0]['name']);
        // The rule engine runs from start() on (upwatch:run); upwatch:check only ran the checks.
        $this->assertSame(['fired', 'held', 'queued', 'delivered', 'failed', 'attempts_failed', 'sending'],
            array_keys($alerts['status']));
        $this->assertSame($monitor->status()['alerts'], $alerts['status']);
        $this->assertIsArray($alerts['pending']);
    }

    public function testArtisanRunSendsAlertsToTheNotifierClass(): void
    {
        $this->get('/'); // boots the app (its config) without building the engine
        $this->app['config']->set('upwatch.notifiers', [
            ['name' => 'log', 'kind' => 'callable', 'class' => RecordingNotifier::class, 'backoff' => '50ms'],
        ]);
        $recorder = new RecordingNotifier(1);
        $this->app->instance(RecordingNotifier::class, $recorder);
        $artisan = $this->app->make(ConsoleKernel::class);
        // The rule engine runs from start() on; then errors goes down and "backend down" fires.
        $this->app->make(Monitor::class)->start();
        $this->assertSame(1, $artisan->call('upwatch:check'));
        $artisan->output();
        $this->assertSame(0, $artisan->call('upwatch:run', ['--for' => '4']));
        $output = $artisan->output();
        $this->assertStringContainsString('alerts sent to notifiers', $output);
        // The first send() threw; the engine retried and the second was delivered.
        $this->assertGreaterThanOrEqual(2, count($recorder->alerts), $output);
        $this->assertSame(['backend down', 'errors', 'down'], [
            $recorder->alerts[0]['rule'], $recorder->alerts[0]['check'], $recorder->alerts[0]['kind'],
        ]);
        $this->assertSame($recorder->alerts[0]['id'], $recorder->alerts[1]['id']);
    }
}
