"""OpenAI-compatible endpoints through the ``openai`` SDK: vLLM, llama.cpp's server, hosted ones.

FIM goes to ``/v1/completions`` with the fully templated prompt (the endpoint
must not add a chat template). Endpoints that only have
``/v1/chat/completions`` are "chat-only" (``openai-chat:`` spec or
``model.chat_only``): they get messages, and ``complete`` sends the prompt as
one user message. Always streamed, so cancelling the task closes the SSE
stream, and a :class:`WarmPool` opens the next connection in the background.
The SDK's own retries are off: the completer owns retry and backoff.

Together's SDK is generated from the same kind of spec (Stainless), so
:class:`StreamingCompletions` serves both; only the client and the error
classes differ.
"""

from __future__ import annotations

import contextlib
import logging
from types import ModuleType
from typing import Any

import openai

from gerbil_lsp.server.backends.base import (
    ENOUGH,
    BackendError,
    BackendUnavailable,
    Completion,
    Enough,
    Stopwatch,
    cut_at_stop,
)
from gerbil_lsp.server.backends.warm_pool import WarmPool, http_module_of

log = logging.getLogger(__name__)

NO_KEY = "not-needed"  # local servers want no key, but the SDK wants a string


class StreamingCompletions:
    """Streamed completions and chat through a Stainless-generated SDK client."""

    name = "openai"
    fim = True
    sdk: ModuleType = openai
    keeps_connection_after_done = True  # the SDK reads the body to its end after [DONE] (HTTP/1.1 reuse)

    def __init__(self, client: Any, model: str, where: str, pool: WarmPool) -> None:
        self._client = client
        self.model = model
        self.where = where
        self._pool = pool

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r} at {self.where})"

    async def complete(
        self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion:
        if not self.fim:
            return await self.chat([{"role": "user", "content": prompt}], max_tokens=max_tokens,
                                   temperature=temperature, stop=stop, enough=enough)
        args = self._args(max_tokens, temperature, stop)
        return await self._streamed(
            lambda: self._client.completions.create(model=self.model, prompt=prompt, stream=True, **args),
            lambda choice: choice.text, stop, enough,
        )

    async def chat(
        self, messages: list[dict], *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion:
        args = self._args(max_tokens, temperature, stop)
        return await self._streamed(
            lambda: self._client.chat.completions.create(model=self.model, messages=messages, stream=True, **args),
            lambda choice: choice.delta.content if choice.delta else None, stop, enough,
        )

    async def _streamed(self, open_stream, text_of, stop, enough: Enough | None) -> Completion:
        """Open the stream and read it. Cancelled while waiting for the answer's head, the request
        took its connection along: the pool opens another."""
        clock = Stopwatch()
        with self._errors():
            try:
                stream = await open_stream()
            except BaseException:
                self._pool.cut()
                raise
            return await self._collect(stream, clock, stop, text_of, enough)

    @staticmethod
    def _args(max_tokens: int, temperature: float, stop: list[str] | None) -> dict:
        args: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
        if stop:
            args["stop"] = list(stop)
        return args

    async def _collect(self, stream, clock: Stopwatch, stop, text_of, enough: Enough | None) -> Completion:
        """Read the SSE stream; leaving it early (``enough``, cancellation) has it closed, and the server stops."""
        text = ""
        finish = None
        usage = None
        ended = False
        try:
            async for chunk in stream:
                for choice in chunk.choices or ():
                    text += text_of(choice) or ""
                    finish = getattr(choice, "finish_reason", None) or finish
                finish = getattr(chunk, "finish_reason", None) or finish  # Together puts it on the chunk
                usage = getattr(chunk, "usage", None) or usage
                if finish is None and enough is not None and enough(text):
                    finish = ENOUGH
                    break
            else:
                ended = True
        finally:
            if not ended:  # the pool closes it soon (so the server stops) and replaces its connection
                self._pool.cut(stream.close)
            else:
                with contextlib.suppress(Exception):
                    await stream.close()
                if not self.keeps_connection_after_done:
                    self._pool.cut()
        text, _ = cut_at_stop(text, stop)
        return Completion(
            text=text,
            model=self.model,
            latency_ms=clock.ms(),
            tokens=getattr(usage, "completion_tokens", None),
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            finish_reason=finish,
            backend=self.name,
        )

    @contextlib.contextmanager
    def _errors(self):
        sdk = self.sdk
        try:
            yield
        except sdk.APITimeoutError:
            raise BackendError(f"{self.where} timed out") from None
        except sdk.APIConnectionError as exc:
            raise BackendUnavailable(f"cannot reach {self.where}: {exc}") from None
        except (sdk.AuthenticationError, sdk.PermissionDeniedError) as exc:
            raise BackendUnavailable(
                f"{self.where} refused the key (HTTP {exc.status_code}): check `gerbil-lsp login`"
            ) from None
        except sdk.NotFoundError:
            raise BackendUnavailable(
                f"{self.where} has no model '{self.model}' or no such endpoint (HTTP 404)"
            ) from None
        except sdk.APIStatusError as exc:
            raise BackendError(f"{self.where}: HTTP {exc.status_code}: {_message(exc)}") from None
        except sdk.APIError as exc:
            raise BackendError(f"{self.where}: {exc}") from None

    async def health(self) -> bool:
        """True when the endpoint lists models (``GET /models``) and ours among them, if it lists any."""
        try:
            with self._errors():
                page = await self._client.models.list()
        except (BackendUnavailable, BackendError) as exc:
            log.info("%s health: %s", self.name, exc)
            return False
        ids = [m.id for m in getattr(page, "data", None) or []]
        return not ids or self.model in ids

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.close()
        await self._pool.aclose()


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message", error))
        return str(error)
    return str(exc)


class OpenAICompatibleBackend(StreamingCompletions):
    """``/v1/completions`` (FIM) or, when ``chat_only``, ``/v1/chat/completions``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        chat_only: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        if not base_url:
            raise ValueError("openai backend needs a base URL, e.g. openai:http://127.0.0.1:8000/v1#MODEL")
        if not model:
            raise ValueError("openai backend needs a model name after '#', e.g. openai:URL#MODEL")
        pool = WarmPool(http=http_module_of(openai.DefaultAsyncHttpxClient), timeout_s=timeout_s)
        client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or NO_KEY, timeout=timeout_s, max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(transport=pool.transport, event_hooks=pool.hooks),
        )
        super().__init__(client, model, base_url, pool)
        self.fim = not chat_only
        self.name = "openai-chat" if chat_only else "openai"
