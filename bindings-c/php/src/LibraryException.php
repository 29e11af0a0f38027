<?php

declare(strict_types=1);

namespace Upwatch;

/** libupwatch could not be loaded (FFI missing or disabled, or the library not found): the message says what to set. */
class LibraryException extends UpwatchException
{
}
