"""The Together backend through the real ``together`` SDK (AsyncTogether), against a loopback fake.

Together's API is OpenAI-shaped; the fake in ``flavor="together"`` reproduces what
Together documents for streamed completions (and its SDK's ``CompletionChunk``
type models): each SSE chunk carries ``choices[].text`` plus a ``token`` object and
a chunk-level ``finish_reason``, the stream ends with ``data: [DONE]``, the key
goes in ``Authorization: Bearer``, and ``GET /v1/models`` answers a bare list.
The SDK takes ``base_url`` (its default is https://api.together.ai), which is how
it is pointed at the fake.
"""

from __future__ import annotations

import asyncio

import pytest

from gerbil_lsp.core.settings import ModelSettings
from gerbil_lsp.server.backends import BackendUnavailable, backend_from_settings
from gerbil_lsp.server.backends.together import TogetherBackend
from tests.fakes.openai_fake import OpenAIFake

KEY = "tgp_v1_abcdefghijklmnopqrstuvwxyz012345"
MODEL = "someone/Qwen2.5-Coder-7B-Instruct-gerbil-lora"


@pytest.fixture
def together_fake():
    with OpenAIFake(flavor="together", api_key=KEY, models=(MODEL,)) as fake:
        yield fake


async def test_fim_completion_with_the_key_from_the_environment(together_fake, monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    together_fake.responder = lambda body: "(hash-ref h k)"
    backend = backend_from_settings(ModelSettings(backend="together", model=MODEL, base_url=together_fake.url))
    try:
        done = await backend.complete("<|fim_prefix|>(<|fim_suffix|>)<|fim_middle|>", max_tokens=16,
                                      temperature=0.2, stop=["<|endoftext|>"])
    finally:
        await backend.aclose()
    assert together_fake.ledger.paths[-1] == "/v1/completions"
    assert together_fake.ledger.requests[-1]["prompt"] == "<|fim_prefix|>(<|fim_suffix|>)<|fim_middle|>"
    assert done.text == "(hash-ref h k)"
    assert done.finish_reason == "stop"
    assert done.tokens == 9  # usage from the last chunk: ( hash - ref _ h _ k )
    assert done.backend == "together"


async def test_chat(together_fake):
    together_fake.responder = lambda body: "Use hash-ref."
    backend = TogetherBackend(MODEL, api_key=KEY, base_url=together_fake.url)
    try:
        done = await backend.chat([{"role": "user", "content": "how?"}], max_tokens=16, temperature=0.0)
        assert await backend.health() is True
    finally:
        await backend.aclose()
    assert "/v1/chat/completions" in together_fake.ledger.paths
    assert done.text == "Use hash-ref."


def test_missing_key_says_how_to_log_in(monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    monkeypatch.setattr("gerbil_lsp.core.secrets.keyring_available", lambda: False)
    with pytest.raises(BackendUnavailable, match="gerbil-lsp login together"):
        TogetherBackend(MODEL)


async def test_wrong_key_is_unavailable(together_fake):
    backend = TogetherBackend(MODEL, api_key="tgp_v1_wrongwrongwrongwrongwrong", base_url=together_fake.url)
    try:
        with pytest.raises(BackendUnavailable, match="refused the key"):
            await backend.complete("x", max_tokens=4, temperature=0.0)
        assert await backend.health() is False
    finally:
        await backend.aclose()


async def test_cancellation_aborts_the_stream():
    with OpenAIFake(flavor="together", api_key=KEY, models=(MODEL,), delay_s=0.02, token_delay_s=0.02) as fake:
        fake.responder = lambda body: " ".join(["tok"] * 50)
        backend = TogetherBackend(MODEL, api_key=KEY, base_url=fake.url)
        try:
            task = asyncio.create_task(backend.complete("x", max_tokens=200, temperature=0.0))
            await asyncio.sleep(0.15)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await fake.ledger.hang_up_seen()
        finally:
            await backend.aclose()
        assert (fake.ledger.started, fake.ledger.completed, fake.ledger.aborted) == (1, 0, 1)
