<?php

declare(strict_types=1);

namespace Upwatch;

/** The host could not be sampled. */
class HostException extends UpwatchException
{
}
