<?php

declare(strict_types=1);

namespace Upwatch;

/**
 * Any failure of an upwatch call. Subclasses name the kind (by the library's result code,
 * never by message text); getProblems() lists spec problems with their paths.
 */
class UpwatchException extends \RuntimeException
{
    /** Result codes of the C library (upwatch_result). */
    public const OK = 0;
    public const NULL_ARGUMENT = 1;
    public const INVALID_HANDLE = 2;
    public const INVALID_JSON = 3;
    public const INVALID_SPEC = 4;
    public const INVALID_ARGUMENT = 5;
    public const UNKNOWN_CHECK = 6;
    public const DUPLICATE_CHECK = 7;
    public const NOT_A_PUSH_CHECK = 8;
    public const MISSING_CALLABLE = 9;
    public const STORE = 10;
    public const FORWARDED = 11;
    public const HOST = 12;
    public const CLOSED = 13;
    public const TIMEOUT = 14;
    public const PANIC = 15;
    public const RUNTIME = 16;

    private const CLASSES = [
        self::INVALID_HANDLE => ClosedException::class,
        self::INVALID_JSON => SpecException::class,
        self::INVALID_SPEC => SpecException::class,
        self::INVALID_ARGUMENT => InvalidArgumentException::class,
        self::UNKNOWN_CHECK => UnknownCheckException::class,
        self::DUPLICATE_CHECK => DuplicateCheckException::class,
        self::NOT_A_PUSH_CHECK => NotAPushCheckException::class,
        self::MISSING_CALLABLE => MissingCallableException::class,
        self::STORE => StoreException::class,
        self::FORWARDED => ForwardedException::class,
        self::HOST => HostException::class,
        self::CLOSED => ClosedException::class,
        self::PANIC => PanicException::class,
        self::RUNTIME => EngineException::class,
    ];

    private string $kind;
    private ?string $path;
    /** @var list<array{path: string, message: string}> */
    private array $problems;

    /**
     * @param list<array{path: string, message: string}> $problems
     */
    final public function __construct(
        string $message,
        int $result = 0,
        string $kind = 'error',
        ?string $path = null,
        array $problems = [],
        ?\Throwable $previous = null
    ) {
        parent::__construct($message, $result, $previous);
        $this->kind = $kind;
        $this->path = $path;
        $this->problems = $problems;
    }

    /**
     * The exception for a result code, from the library's description of the error
     * (upwatch_last_error_json).
     *
     * @param array<string, mixed>|null $error
     */
    public static function fromResult(int $result, ?array $error): self
    {
        $class = self::CLASSES[$result] ?? self::class;
        return new $class(
            (string) ($error['message'] ?? "upwatch call failed with result {$result}"),
            $result,
            (string) ($error['code'] ?? 'error'),
            isset($error['path']) ? (string) $error['path'] : null,
            $error['problems'] ?? []
        );
    }

    /** The kind of failure: "spec", "unknown_check", "store", ... (the same names in every language). */
    public function getKind(): string
    {
        return $this->kind;
    }

    /** The field at fault ("checks[0].url", "limit"), when there is one. */
    public function getPath(): ?string
    {
        return $this->path;
    }

    /** @return list<array{path: string, message: string}> */
    public function getProblems(): array
    {
        return $this->problems;
    }
}
