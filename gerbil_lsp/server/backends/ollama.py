"""Ollama through its own ``ollama`` client: ``/api/generate`` with ``raw`` and the full FIM prompt.

``raw=True`` because our prompt already carries Qwen's FIM tokens: Ollama must
not wrap it in the model's chat template. ``options`` carries ``num_ctx`` (Ollama's
default window is far smaller than a repo-level prompt), ``num_predict``,
``temperature`` and ``stop``; ``keep_alive`` keeps the model loaded between
keystrokes. We stream so that cancelling the task closes the HTTP response and
Ollama stops generating, and a :class:`WarmPool` opens the next connection in
the background (``HEAD /``: "Ollama is running").
"""

from __future__ import annotations

import contextlib
import logging

import httpx
import ollama

from gerbil_lsp.server.backends.base import (
    ENOUGH,
    BackendError,
    BackendUnavailable,
    Completion,
    Enough,
    Stopwatch,
    cut_at_stop,
)
from gerbil_lsp.server.backends.warm_pool import WarmPool

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:11434"


class OllamaBackend:
    name = "ollama"
    fim = True

    def __init__(
        self,
        model: str,
        base_url: str = "",
        *,
        num_ctx: int = 8192,
        keep_alive: str | float | None = "30m",
        timeout_s: float = 10.0,
        api_key: str | None = None,
    ) -> None:
        if not model:
            raise ValueError("ollama backend needs a model name, e.g. ollama:qwen2.5-coder:7b")
        self.model = model
        self.base_url = base_url or DEFAULT_URL
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._pool = WarmPool(timeout_s=timeout_s)
        self._client = ollama.AsyncClient(host=self.base_url, timeout=timeout_s, headers=headers,
                                          transport=self._pool.transport, event_hooks=self._pool.hooks)

    def __repr__(self) -> str:
        return f"OllamaBackend({self.model!r} at {self.base_url})"

    def _options(self, max_tokens: int, temperature: float, stop: list[str] | None) -> dict:
        options = {"num_ctx": self.num_ctx, "num_predict": max_tokens, "temperature": temperature}
        if stop:
            options["stop"] = list(stop)
        return options

    async def complete(
        self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion:
        clock = Stopwatch()
        with self._errors():
            stream = await self._client.generate(
                model=self.model,
                prompt=prompt,
                raw=True,
                stream=True,
                options=self._options(max_tokens, temperature, stop),
                keep_alive=self.keep_alive,
            )
            text, final, early = await _read_stream(stream, lambda part: part.response, enough, self._pool)
        return self._completion(text, final, clock, stop, early)

    async def chat(
        self, messages: list[dict], *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion:
        clock = Stopwatch()
        with self._errors():
            stream = await self._client.chat(
                model=self.model,
                messages=messages,
                stream=True,
                options=self._options(max_tokens, temperature, stop),
                keep_alive=self.keep_alive,
            )
            text, final, early = await _read_stream(
                stream, lambda part: part.message and part.message.content, enough, self._pool
            )
        return self._completion(text, final, clock, stop, early)

    def _completion(self, text: str, final, clock: Stopwatch, stop: list[str] | None, early: bool) -> Completion:
        """``final`` is Ollama's last record (its timings); None when the stream ended before it."""
        text, _ = cut_at_stop(text, stop)
        if early:
            finish = ENOUGH
        else:
            finish = getattr(final, "done_reason", None) if final is not None else "incomplete"
        timings = {}
        if final is not None:
            for key in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
                        "eval_count", "eval_duration"):
                value = getattr(final, key, None)
                if value is not None:
                    timings[key] = value
        return Completion(
            text=text,
            model=self.model,
            latency_ms=clock.ms(),
            tokens=timings.get("eval_count"),
            prompt_tokens=timings.get("prompt_eval_count"),
            finish_reason=finish,
            backend=self.name,
            timings=timings,
        )

    @contextlib.contextmanager
    def _errors(self):
        """Map the client's errors onto ours, with what the user can do about each."""
        try:
            yield
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise BackendUnavailable(
                    f"Ollama at {self.base_url} has no model '{self.model}': run `ollama pull {self.model}` "
                    f"or `gerbil-lsp deploy`"
                ) from None
            if exc.status_code in (401, 403):
                raise BackendUnavailable(f"Ollama at {self.base_url} refused the key ({exc.status_code})") from None
            raise BackendError(f"Ollama at {self.base_url}: {exc.error} (HTTP {exc.status_code})") from None
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise BackendUnavailable(
                f"cannot reach Ollama at {self.base_url}: is `ollama serve` running? ({type(exc).__name__})"
            ) from None
        except httpx.TimeoutException:
            raise BackendError(f"Ollama at {self.base_url} timed out") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"Ollama at {self.base_url}: {type(exc).__name__}: {exc}") from None

    async def health(self) -> bool:
        """True when Ollama answers and has the model (``/api/show``)."""
        try:
            with self._errors():
                await self._client.show(self.model)
        except (BackendUnavailable, BackendError) as exc:
            log.info("ollama health: %s", exc)
            return False
        return True

    async def context_length(self) -> int | None:
        """The model's trained context window from ``/api/show`` (``<arch>.context_length``)."""
        with self._errors():
            info = await self._client.show(self.model)
        for key, value in (info.modelinfo or {}).items():
            if key.endswith(".context_length"):
                return int(value)
        return None

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.close()
        await self._pool.aclose()


async def _read_stream(stream, text_of, enough: Enough | None, pool: WarmPool):
    """The streamed text, Ollama's final record, and whether ``enough`` ended it first.

    The ``ollama`` client sends the request when the stream is first read. A
    stream left before Ollama's final record goes to the pool to be closed, which
    is how Ollama learns to stop, and its connection replaced.
    """
    text = ""
    final = None
    try:
        async for part in stream:
            text += text_of(part) or ""
            if part.done:
                final = part
            elif enough is not None and enough(text):
                return text, None, True
    finally:
        if final is None:
            pool.cut(stream.aclose)
    return text, final, False
