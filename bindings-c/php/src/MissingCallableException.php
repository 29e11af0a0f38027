<?php

declare(strict_types=1);

namespace Upwatch;

/** A callable check was registered without its function (PHP cannot provide one: use push checks). */
class MissingCallableException extends UpwatchException
{
}
