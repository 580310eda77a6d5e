"""The Ollama backend through the real ``ollama`` client, against a loopback fake of Ollama's API.

The fake follows Ollama's docs/api.md: streaming NDJSON from /api/generate, ``raw``,
``options``, a final ``done`` record with the timings, 404 for a model not pulled.
"""

from __future__ import annotations

import asyncio

import pytest

from gerbil_lsp.server.backends import BackendError, BackendUnavailable, backend_from_spec
from gerbil_lsp.server.backends.ollama import OllamaBackend
from gerbil_lsp.server.completion.prompt import STOP_TOKENS
from tests.fakes.fixtures import closed_port_url
from tests.fakes.ollama_fake import OllamaFake

FIM = "<|fim_prefix|>(def (square x)\n  (* x <|fim_suffix|>))\n<|fim_middle|>"


@pytest.fixture
def ollama_fake():
    with OllamaFake() as fake:
        yield fake


async def test_generate_sends_raw_prompt_options_and_keep_alive(ollama_fake):
    ollama_fake.responder = lambda body: "x<|endoftext|>ignored"
    backend = OllamaBackend("qwen2.5-coder:7b", ollama_fake.url, num_ctx=4096, keep_alive="15m")
    try:
        done = await backend.complete(FIM, max_tokens=64, temperature=0.1, stop=list(STOP_TOKENS))
    finally:
        await backend.aclose()
    body = ollama_fake.ledger.requests[-1]
    assert ollama_fake.ledger.paths[-1] == "/api/generate"
    assert body["raw"] is True and body["stream"] is True
    assert body["prompt"] == FIM
    assert body["keep_alive"] == "15m"
    assert body["options"] == {"num_ctx": 4096, "num_predict": 64, "temperature": 0.1, "stop": list(STOP_TOKENS)}
    assert done.text == "x"  # the fake applied the stop sequence, as Ollama does
    assert done.finish_reason == "stop"
    assert done.backend == "ollama" and done.model == "qwen2.5-coder:7b"


async def test_final_record_timings_reach_the_completion(ollama_fake):
    ollama_fake.delay_s = 0.03
    ollama_fake.responder = lambda body: "(+ x 1)"
    backend = OllamaBackend("qwen2.5-coder:7b", ollama_fake.url)
    try:
        done = await backend.complete(FIM, max_tokens=64, temperature=0.0)
    finally:
        await backend.aclose()
    assert done.tokens == done.timings["eval_count"] == 7  # "(", "+", " ", "x", " ", "1", ")"
    assert done.prompt_tokens == done.timings["prompt_eval_count"] > 0
    assert done.timings["total_duration"] >= 30_000_000  # nanoseconds, includes the 30 ms delay
    assert done.latency_ms >= 30


async def test_num_predict_limit_reports_length(ollama_fake):
    ollama_fake.responder = lambda body: "a b c d e f g h"
    backend = OllamaBackend("qwen2.5-coder:7b", ollama_fake.url)
    try:
        done = await backend.complete(FIM, max_tokens=3, temperature=0.0)
    finally:
        await backend.aclose()
    assert done.text == "a b"
    assert done.finish_reason == "length"


async def test_chat_streams_messages(ollama_fake):
    ollama_fake.responder = lambda body: "(displayln 1)"
    backend = OllamaBackend("qwen2.5-coder:7b", ollama_fake.url)
    try:
        done = await backend.chat([{"role": "user", "content": "print one"}], max_tokens=32, temperature=0.0)
    finally:
        await backend.aclose()
    assert ollama_fake.ledger.paths[-1] == "/api/chat"
    assert ollama_fake.ledger.requests[-1]["messages"] == [{"role": "user", "content": "print one"}]
    assert done.text == "(displayln 1)"


async def test_model_not_pulled_is_unavailable_with_the_fix(ollama_fake):
    backend = OllamaBackend("missing-model:1b", ollama_fake.url)
    try:
        with pytest.raises(BackendUnavailable, match="ollama pull missing-model:1b"):
            await backend.complete(FIM, max_tokens=8, temperature=0.0)
        assert await backend.health() is False
    finally:
        await backend.aclose()


async def test_server_down_is_unavailable():
    backend = OllamaBackend("qwen2.5-coder:7b", closed_port_url(), timeout_s=2)
    try:
        with pytest.raises(BackendUnavailable, match="ollama serve"):
            await backend.complete(FIM, max_tokens=8, temperature=0.0)
        assert await backend.health() is False
    finally:
        await backend.aclose()


async def test_server_error_is_backend_error(ollama_fake):
    ollama_fake.fail_with = (500, {"error": "llama runner process has terminated"})
    backend = OllamaBackend("qwen2.5-coder:7b", ollama_fake.url)
    try:
        with pytest.raises(BackendError, match="runner process has terminated"):
            await backend.complete(FIM, max_tokens=8, temperature=0.0)
    finally:
        await backend.aclose()


async def test_cancelling_the_task_aborts_the_stream():
    with OllamaFake(delay_s=0.02, token_delay_s=0.02) as fake:
        fake.responder = lambda body: " ".join(["tok"] * 50)
        backend = OllamaBackend("qwen2.5-coder:7b", fake.url)
        try:
            task = asyncio.create_task(backend.complete(FIM, max_tokens=200, temperature=0.0))
            await asyncio.sleep(0.15)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await fake.ledger.hang_up_seen()
        finally:
            await backend.aclose()
        assert fake.ledger.started == 1
        assert fake.ledger.aborted == 1 and fake.ledger.completed == 0


async def test_health_and_context_length_from_show(ollama_fake):
    backend = backend_from_spec(f"ollama:gerbil-coder@{ollama_fake.url}")
    try:
        assert await backend.health() is True
        assert await backend.context_length() == 32768
    finally:
        await backend.aclose()
    assert "/api/show" in ollama_fake.ledger.paths
