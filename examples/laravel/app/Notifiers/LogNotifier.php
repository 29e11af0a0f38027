<?php

namespace App\Notifiers;

use Psr\Log\LoggerInterface;
use Upwatch\Notifier;

/**
 * A notifier written in PHP: `php artisan upwatch:run` hands it each alert of the rules that
 * name it (config/upwatch.php). A pager or chat client goes in its place; throwing makes
 * the attempt fail, and the engine retries it with backoff.
 */
class LogNotifier implements Notifier
{
    public function __construct(private LoggerInterface $log)
    {
    }

    public function send(array $alert): void
    {
        $this->log->warning(sprintf('upwatch alert: [%s] %s %s: %s', $alert['severity'], $alert['kind'], $alert['check'], $alert['message']));
    }
}
