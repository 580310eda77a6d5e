"""Together AI through its own SDK (``AsyncTogether``): completions for FIM, chat for chat.

A fine-tuned LoRA on Together is served under its own model name, so FIM goes
to ``/v1/completions`` with the fully templated prompt. The key comes from the
keyring (``gerbil-lsp login together``) or ``TOGETHER_API_KEY``, never from a
file, and is never logged.
"""

from __future__ import annotations

import logging

import together

from gerbil_lsp.core import secrets
from gerbil_lsp.server.backends.base import BackendError, BackendUnavailable
from gerbil_lsp.server.backends.openai_compatible import StreamingCompletions
from gerbil_lsp.server.backends.warm_pool import WarmPool, http_module_of

log = logging.getLogger(__name__)


class TogetherBackend(StreamingCompletions):
    name = "together"
    sdk = together
    # Its SDK closes the response at [DONE] without reading the body's last bytes, so HTTP/1.1
    # drops the connection after every completion: the pool opens the next one meanwhile.
    keeps_connection_after_done = False

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        key_name: str = "together",
        base_url: str | None = None,
        chat_only: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        if not model:
            raise ValueError("together backend needs a model name, e.g. together:Qwen/Qwen2.5-Coder-7B-Instruct")
        if api_key is None:
            try:
                api_key = secrets.require_secret(key_name or "together")
            except secrets.MissingSecretError as exc:
                raise BackendUnavailable(str(exc)) from None
        pool = WarmPool(http=http_module_of(together.DefaultAsyncHttpxClient), timeout_s=timeout_s)
        client = together.AsyncTogether(
            api_key=api_key, base_url=base_url or None, timeout=timeout_s, max_retries=0,
            http_client=together.DefaultAsyncHttpxClient(transport=pool.transport, event_hooks=pool.hooks),
        )
        super().__init__(client, model, base_url or "Together AI", pool)
        self.fim = not chat_only

    async def health(self) -> bool:
        """True when ``GET /v1/models`` answers with the key and lists our model (or lists nothing)."""
        try:
            with self._errors():
                listed = await self._client.get("/v1/models", cast_to=object)
        except (BackendUnavailable, BackendError) as exc:
            log.info("together health: %s", exc)
            return False
        if isinstance(listed, dict):
            listed = listed.get("data", [])
        ids = [m.get("id") for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
        return not ids or self.model in ids
