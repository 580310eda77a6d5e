"""A GGUF model inside the server process (llama-cpp-python, the ``[local]`` extra).

For users with no model server at all: one GGUF file, plus an optional GGUF
LoRA adapter (``lora_path``, what ``gerbil-lsp train`` exports). Generations
run on one worker thread and stop within a token of being cancelled
(:class:`InProcessBackend`). llama-cpp-python keeps the KV cache of the
previous prompt and reuses the common prefix, which is why the prompt puts
stable context first.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from gerbil_lsp.server.backends.base import (
    ENOUGH,
    BackendError,
    BackendUnavailable,
    Completion,
    Enough,
    Stopwatch,
    cut_at_stop,
)
from gerbil_lsp.server.backends.in_process import InProcessBackend

INSTALL_HINT = "install the local extra: pip install 'gerbil-lsp[local]'"


def import_llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendUnavailable(f"llama-cpp-python is not installed ({exc}); {INSTALL_HINT}") from None
    return llama_cpp


class LlamaCppBackend(InProcessBackend):
    name = "llamacpp"
    fim = True

    def __init__(
        self,
        model_path: str,
        *,
        adapter_path: str | None = None,
        num_ctx: int = 8192,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise BackendUnavailable(f"GGUF model not found: {path}; set model.model to a .gguf file")
        super().__init__("llamacpp")
        adapter = Path(adapter_path).expanduser() if adapter_path else None
        if adapter is not None and not adapter.is_file():
            raise BackendUnavailable(f"GGUF LoRA adapter not found: {adapter}; set model.adapter to a .gguf file")
        self.model_path = path
        self.adapter_path = adapter
        self.model = path.name + (f"+{adapter.name}" if adapter else "")
        self.num_ctx = num_ctx
        self.n_threads = n_threads
        self.seed = seed
        self._llama: Any = None
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LlamaCppBackend({self.model!r})"

    # ------------------------------------------------------------------ worker thread

    def _load(self):
        with self._load_lock:
            if self._llama is None:
                llama_cpp = import_llama_cpp()
                try:
                    self._llama = llama_cpp.Llama(
                        model_path=str(self.model_path),
                        lora_path=str(self.adapter_path) if self.adapter_path else None,
                        n_ctx=self.num_ctx,
                        n_threads=self.n_threads,
                        seed=self.seed,
                        verbose=False,
                    )
                except (ValueError, RuntimeError, OSError) as exc:
                    raise BackendUnavailable(f"llama.cpp could not load {self.model}: {exc}") from None
            return self._llama

    def _generate(self, prompt: str, max_tokens: int, temperature: float, stop, enough, flag: threading.Event) -> dict:
        llama_cpp = import_llama_cpp()
        llm = self._load()
        if flag.is_set():
            return {"choices": [{"text": "", "finish_reason": "cancelled"}]}
        self.generations_started += 1
        ended = threading.Event()  # ``enough`` said so
        generated_from: list[int] = []  # the prompt's length: llama.cpp's first call sees the prompt alone

        def stop_now(ids, _logits) -> bool:
            if flag.is_set():
                return True
            if enough is None:
                return False
            if not generated_from:
                generated_from.append(len(ids))
            text = llm.detokenize(list(ids[generated_from[0]:])).decode("utf-8", errors="ignore")
            if enough(text):
                ended.set()
                return True
            return False

        try:
            out = llm.create_completion(
                prompt, max_tokens=max_tokens, temperature=temperature, stop=stop or [],
                stopping_criteria=llama_cpp.StoppingCriteriaList([stop_now]),
            )
        except (ValueError, RuntimeError) as exc:  # e.g. prompt longer than n_ctx
            raise BackendError(f"llama.cpp: {exc}") from None
        if flag.is_set():
            self.generations_stopped += 1
        elif ended.is_set():
            out["choices"][0]["finish_reason"] = ENOUGH
        return out

    def _generate_chat(self, messages, max_tokens: int, temperature: float, stop, enough,
                       flag: threading.Event) -> dict:
        llm = self._load()
        self.generations_started += 1
        text = ""
        finish = None
        try:
            for chunk in llm.create_chat_completion(
                messages, max_tokens=max_tokens, temperature=temperature, stop=stop or [], stream=True
            ):
                if flag.is_set():
                    self.generations_stopped += 1
                    finish = "cancelled"
                    break
                choice = chunk["choices"][0]
                text += choice.get("delta", {}).get("content") or ""
                finish = choice.get("finish_reason") or finish
                if finish is None and enough is not None and enough(text):
                    finish = ENOUGH
                    break
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp: {exc}") from None
        return {"choices": [{"text": text, "finish_reason": finish}]}

    # ------------------------------------------------------------------ Backend

    async def complete(
        self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion:
        clock = Stopwatch()
        out = await self._run(self._generate, prompt, max_tokens, temperature, stop, enough)
        return self._completion(out, clock, stop)

    async def chat(
        self, messages: list[dict], *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion:
        clock = Stopwatch()
        out = await self._run(self._generate_chat, messages, max_tokens, temperature, stop, enough)
        return self._completion(out, clock, stop)

    def _completion(self, out: dict, clock: Stopwatch, stop) -> Completion:
        choice = out["choices"][0]
        text, _ = cut_at_stop(choice.get("text") or "", stop)
        usage = out.get("usage") or {}
        return Completion(
            text=text,
            model=self.model,
            latency_ms=clock.ms(),
            tokens=usage.get("completion_tokens"),
            prompt_tokens=usage.get("prompt_tokens"),
            finish_reason=choice.get("finish_reason"),
            backend=self.name,
        )

    def count_tokens(self, text: str) -> int:
        """Token count with the model's own vocabulary (loads the model if needed)."""
        return len(self._load().tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _release(self) -> None:
        llm, self._llama = self._llama, None
        if llm is not None and hasattr(llm, "close"):
            llm.close()
