<?php

declare(strict_types=1);

namespace Upwatch;

/** No check has this name. */
class UnknownCheckException extends UpwatchException
{
}
