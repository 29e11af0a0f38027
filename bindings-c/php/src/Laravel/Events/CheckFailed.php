<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Events;

/** An attempt of a check failed (payload: the result). */
class CheckFailed extends UpwatchEvent
{
}
