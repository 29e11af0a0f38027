<?php

declare(strict_types=1);

namespace Upwatch;

/** The engine's runtime could not start (threads could not be spawned). */
class EngineException extends UpwatchException
{
}
