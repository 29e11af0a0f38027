<?php

declare(strict_types=1);

namespace Upwatch;

/** A check with this name exists. */
class DuplicateCheckException extends UpwatchException
{
}
