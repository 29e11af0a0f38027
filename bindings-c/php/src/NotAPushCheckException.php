<?php

declare(strict_types=1);

namespace Upwatch;

/** push() or record() on a check that is not a push check. */
class NotAPushCheckException extends UpwatchException
{
}
