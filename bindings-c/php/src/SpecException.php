<?php

declare(strict_types=1);

namespace Upwatch;

/** A config or check spec is invalid (getProblems() lists every problem with its path), or its JSON is. */
class SpecException extends UpwatchException
{
}
