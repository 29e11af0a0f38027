<?php

declare(strict_types=1);

namespace Upwatch;

/** An argument is wrong: a history query's limit, an uptime window, a duration (getPath() names it). */
class InvalidArgumentException extends UpwatchException
{
}
