<?php

declare(strict_types=1);

namespace Upwatch;

/** A bug inside the engine; the monitor stays usable. */
class PanicException extends UpwatchException
{
}
