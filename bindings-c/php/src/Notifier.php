<?php

declare(strict_types=1);

namespace Upwatch;

/**
 * A notifier written in PHP: the object behind a "callable" notifier. The engine never
 * calls PHP from its own threads; Monitor::serveNotifiers() reads the queued alerts and
 * calls send() on the PHP thread, then tells the engine how it went.
 *
 * ```php
 * final class Pager implements Upwatch\Notifier
 * {
 *     public function send(array $alert): void
 *     {
 *         // $alert: id, rule, kind ("down", "resolved", ...), severity, check, service,
 *         // status, at, since, message, error, incident, repeat, host
 *         if (!$this->client->page($alert['message'])) {
 *             throw new RuntimeException('pager refused');  // a failed attempt, retried
 *         }
 *     }
 * }
 * $m->addNotifier(['name' => 'pager', 'kind' => 'callable', 'backoff' => '5s'], new Pager($client));
 * ```
 */
interface Notifier
{
    /**
     * Delivers one alert (the shape of the alert_fired event). Returning is a delivery;
     * throwing is a failed attempt (its message is the failure), retried with the
     * notifier's backoff up to its max_attempts.
     *
     * @param array<string, mixed> $alert
     */
    public function send(array $alert): void;
}
