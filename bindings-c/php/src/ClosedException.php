<?php

declare(strict_types=1);

namespace Upwatch;

/** The monitor is shut down (or its handle was released). */
class ClosedException extends UpwatchException
{
}
