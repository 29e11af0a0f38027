<?php

declare(strict_types=1);

namespace Upwatch;

/** The process holding the scheduler lease refused or did not answer. */
class ForwardedException extends UpwatchException
{
}
