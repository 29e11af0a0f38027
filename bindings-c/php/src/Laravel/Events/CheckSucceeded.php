<?php

declare(strict_types=1);

namespace Upwatch\Laravel\Events;

/** An attempt of a check passed (payload: the result). */
class CheckSucceeded extends UpwatchEvent
{
}
