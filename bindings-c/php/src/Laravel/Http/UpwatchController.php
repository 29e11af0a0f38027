<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Http;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use Symfony\Component\HttpFoundation\Response as HttpResponse;
use Upwatch\InvalidArgumentException;
use Upwatch\Monitor;

/**
 * The endpoints every upwatch framework integration serves (Django, Flask, Express,
 * Laravel), with the same JSON: status, history, changes, uptime, host, metrics, ready,
 * incidents, alerts.
 */
class UpwatchController
{
    private const LISTS = ['check', 'service', 'tag', 'status'];
    private const SINGLE = ['since', 'until', 'cursor', 'limit', 'window'];

    public function __construct(private Monitor $monitor)
    {
    }

    public function status(): Response
    {
        return $this->raw($this->monitor->json('status'));
    }

    public function history(Request $request): HttpResponse
    {
        return $this->page($request, 'history');
    }

    public function changes(Request $request): HttpResponse
    {
        return $this->page($request, 'changes');
    }

    public function uptime(Request $request): HttpResponse
    {
        $query = $this->query($request);
        $window = (string) ($query['window'] ?? '30d');
        unset($query['window']);
        try {
            return $this->raw($this->monitor->json('uptime', $query, $window));
        } catch (InvalidArgumentException $e) {
            return $this->badRequest($e);
        }
    }

    public function host(): Response
    {
        return $this->raw($this->monitor->json('host'));
    }

    public function metrics(): Response
    {
        return new Response($this->monitor->prometheus(), 200, [
            'Content-Type' => 'text/plain; version=0.0.4; charset=utf-8',
        ]);
    }

    /** The engine's readiness answer (the rule lives in the core): 200 when ready, else 503. */
    public function ready(): Response
    {
        $wanted = config('upwatch.ready_services');
        $json = $this->monitor->json('readiness', $wanted === null ? [] : array_values((array) $wanted));
        $ready = (bool) (json_decode($json, true)['ready'] ?? false);
        return new Response($json, $ready ? 200 : 503, ['Content-Type' => 'application/json']);
    }

    /** A page of incidents, newest first (the query of history). */
    public function incidents(Request $request): HttpResponse
    {
        return $this->page($request, 'incidents');
    }

    /** alertsReport(): {"status": (as status().alerts), "alerting": alerting(), "pending": pendingAlerts()} */
    public function alerts(): Response
    {
        // The engine's own JSON: decoding and encoding again would turn empty objects into lists.
        return $this->raw($this->monitor->json('alerts_report'));
    }

    private function page(Request $request, string $what): HttpResponse
    {
        try {
            return $this->raw($this->monitor->json($what, $this->query($request)));
        } catch (InvalidArgumentException $e) {
            return $this->badRequest($e);
        }
    }

    /**
     * The query string as the engine's query: check/service/tag/status repeatable or comma
     * lists; limit a number when it is one (the engine names the field when it is not);
     * anything else is passed on, so the engine reports unknown parameters.
     *
     * @return array<string, mixed>
     */
    private function query(Request $request): array
    {
        $query = [];
        $raw = (string) $request->server('QUERY_STRING', '');
        foreach ($raw === '' ? [] : explode('&', $raw) as $pair) {
            if ($pair === '') {
                continue;
            }
            [$key, $value] = array_pad(explode('=', $pair, 2), 2, '');
            $key = preg_replace('/\[\]$/', '', urldecode($key));
            $value = urldecode($value);
            if (in_array($key, self::LISTS, true)) {
                foreach (explode(',', $value) as $item) {
                    if (trim($item) !== '') {
                        $query[$key][] = trim($item);
                    }
                }
            } elseif ($key === 'limit' && preg_match('/^\d{1,9}$/', $value) === 1) {
                $query[$key] = (int) $value;
            } else {
                $query[$key] = $value;
            }
        }
        return $query;
    }

    private function raw(string $json): Response
    {
        return new Response($json, 200, ['Content-Type' => 'application/json']);
    }

    private function badRequest(InvalidArgumentException $e): JsonResponse
    {
        return new JsonResponse(['error' => [
            'code' => 'invalid_argument',
            'field' => $e->getPath(),
            'message' => $e->getMessage(),
        ]], 400);
    }
}
