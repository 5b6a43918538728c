"""The one streaming interface every backend implements.

``stream`` yields the generated text piece by piece as the engine produces it (so the runner
can time the first token and each one after it) and *returns* the engine's own figures as
:class:`EngineStats` when it ends. Figures an engine does not give stay None: the runner then
uses its own measurements and the results say which was used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator
from dataclasses import dataclass, field


class BackendError(Exception):
    """The engine failed on this prompt: recorded as that prompt's error, the run goes on."""


class EngineMisuse(BackendError):
    """The engine is not the kind of program the run was set up for (an interactive chat run as
    a one-shot engine): every prompt would fail alike, so the run stops with one line, exit 2."""


class StopRequested(BaseException):
    """Thrown into a backend's stream when the run is stopped: a backend that holds output back
    yields it and re-raises. A BaseException, so a backend's ``except Exception`` never turns a
    stop into a prompt error."""


class BackendUnavailable(Exception):
    """The engine cannot be reached or loaded at start: one line, exit status 3."""


class ModelMissing(Exception):
    """The model is not there (an Ollama model not pulled, a GGUF path that does not exist): exit 2."""


def is_number(value: object) -> bool:
    """A figure an engine or a record gives as a number (JSON's true/false are not figures)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plain_prompt(prompt: str, system: str | None) -> str:
    """A system prompt and a prompt as one text, for engines that take no chat roles."""
    return f"{system}\n\n{prompt}" if system else prompt


@dataclass(frozen=True)
class Options:
    max_tokens: int = 128
    temperature: float = 0.0
    seed: int = 42
    ctx: int = 2048
    threads: int | None = None
    timeout: float = 600.0  # longest one prompt may take, start to end of its reply
    raw_prompt: bool = False  # send the prompt as it is, not through the model's chat template


@dataclass
class EngineStats:
    """What the engine itself reports for one prompt, in seconds and tokens."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    prefill_seconds: float | None = None
    decode_seconds: float | None = None
    decode_tokens: int | None = None  # tokens decode_seconds covers, where not output_tokens (llama.cpp)
    load_seconds: float | None = None  # load time the engine counted inside this request
    cached_prompt: bool = False  # Ollama omits prompt_eval_count when the prompt was cached
    tokens_per_second: float | None = None  # a rate the engine prints without its times (llama2.c)
    # the pieces are raw output chunks, not tokens (command and serial engines): tokens are
    # counted from the engine's figures or estimated from words, and decode ends at the last
    # output byte rather than when the engine exits
    chunked_output: bool = False
    end_reason: str | None = None  # how a chunked reply ended: exit, marker, stats, idle
    output_tokens_source: str | None = None  # how output_tokens was derived, where not "engine"
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Piece:
    """Generated text and the ``time.monotonic()`` at which its first byte arrived: a backend that
    holds output back to classify it yields these, so the hold never shifts a timing. Backends
    may also yield ``""`` while nothing arrives, so that a stop request is seen."""

    text: str
    at: float


@dataclass(frozen=True)
class ModelInfo:
    name: str
    digest: str | None = None  # the engine's own identifier (Ollama's digest)
    size_bytes: int | None = None
    details: dict[str, str] = field(default_factory=dict)
    path: str | None = None  # the model file, where the engine reads one (GGUF)
    sha256: str | None = None  # of that file


class Backend(ABC):
    name: str
    chunked_output = False  # see EngineStats.chunked_output: also for a prompt that failed
    # its stream can block in a read for as long as the engine sends nothing (an HTTP server):
    # the run then drives it on a thread and ends it with abort(); other streams yield often
    blocks_on_reads = False

    def __init__(self, model: str, host: str, options: Options) -> None:
        self.model = model
        self.host = host
        self.options = options

    @abstractmethod
    def start(self) -> float:
        """Reach the engine and load the model; returns the load seconds (reported on their own,
        never mixed into the first prompt). Raises BackendUnavailable or ModelMissing."""

    @abstractmethod
    def stream(
        self, prompt: str, system: str | None, max_tokens: int
    ) -> Generator[str | Piece, None, EngineStats]:
        """Generate, yielding text pieces; returns the engine's figures. Raises BackendError."""

    def prepare(self, prompt: str, system: str | None) -> None:  # noqa: B027 - optional hook
        """Get ready for the next prompt before its clock starts (reopen a lost device, wait for
        a restarted server, render the prompt). Raises BackendError: that prompt fails."""

    @property
    def label(self) -> str:
        """The model as labels and records name it (a GGUF's file name, not its whole path)."""
        return self.model

    def info(self) -> ModelInfo:
        return ModelInfo(self.model)

    def version(self) -> str | None:
        return None

    def abort(self) -> None:  # noqa: B027 - optional hook
        """End the reply in flight from another thread (a server that sends nothing): the
        stream then raises. Called when a stop or ``--timeout`` cannot wait for the next piece."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine (free the model)."""
