<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Events;

/** A check's settled status changed (payload: check, service, previous, status, at, error). */
class CheckStatusChanged extends UpwatchEvent
{
}
