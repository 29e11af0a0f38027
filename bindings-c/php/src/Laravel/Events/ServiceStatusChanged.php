<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Events;

/** A service's status changed (payload: service, previous, status, at, cause). */
class ServiceStatusChanged extends UpwatchEvent
{
}
