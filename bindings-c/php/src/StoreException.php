<?php

declare(strict_types=1);

namespace Upwatch;

/** History could not be read or written. */
class StoreException extends UpwatchException
{
}
