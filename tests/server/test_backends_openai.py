"""The OpenAI-compatible backend through the real ``openai`` SDK, against a loopback fake.

The fake follows OpenAI's API reference for /v1/completions, /v1/chat/completions
(SSE streaming ending in ``data: [DONE]``) and /v1/models, as vLLM and llama.cpp's
server implement it.
"""

from __future__ import annotations

import asyncio

import pytest

from gerbil_lsp.core.settings import ModelSettings
from gerbil_lsp.server.backends import (
    BackendError,
    BackendUnavailable,
    backend_from_settings,
    backend_from_spec,
)
from gerbil_lsp.server.backends.openai_compatible import OpenAICompatibleBackend
from tests.fakes.fixtures import closed_port_url
from tests.fakes.openai_fake import OpenAIFake

FIM = "<|fim_prefix|>(def (inc x) <|fim_suffix|>)\n<|fim_middle|>"


@pytest.fixture
def openai_fake():
    with OpenAIFake() as fake:
        yield fake


async def test_completions_stream_the_templated_prompt(openai_fake):
    openai_fake.responder = lambda body: "(+ x 1)"
    backend = backend_from_spec(f"openai:{openai_fake.url}/v1#gerbil-coder")
    try:
        done = await backend.complete(FIM, max_tokens=32, temperature=0.2, stop=["<|endoftext|>"])
    finally:
        await backend.aclose()
    body = openai_fake.ledger.requests[-1]
    assert openai_fake.ledger.paths[-1] == "/v1/completions"
    assert body["prompt"] == FIM and body["stream"] is True
    assert body["max_tokens"] == 32 and body["temperature"] == 0.2 and body["stop"] == ["<|endoftext|>"]
    assert done.text == "(+ x 1)" and done.finish_reason == "stop" and done.backend == "openai"


async def test_max_tokens_cut_reports_length(openai_fake):
    openai_fake.responder = lambda body: "one two three four"
    backend = OpenAICompatibleBackend(f"{openai_fake.url}/v1", "gerbil-coder")
    try:
        done = await backend.complete(FIM, max_tokens=3, temperature=0.0)
    finally:
        await backend.aclose()
    assert done.text == "one two" and done.finish_reason == "length"


async def test_chat_only_endpoint_gets_chat_completions():
    with OpenAIFake(chat_only=True) as fake:
        fake.responder = lambda body: "(car xs)"
        backend = backend_from_spec(f"openai-chat:{fake.url}/v1#gerbil-coder")
        try:
            assert backend.fim is False
            done = await backend.complete("complete this", max_tokens=16, temperature=0.0)
            chat = await backend.chat([{"role": "user", "content": "hi"}], max_tokens=16, temperature=0.0)
        finally:
            await backend.aclose()
        assert fake.ledger.paths == ["/v1/chat/completions", "/v1/chat/completions"]
        assert fake.ledger.requests[0]["messages"] == [{"role": "user", "content": "complete this"}]
        assert done.text == chat.text == "(car xs)"


async def test_completions_on_a_chat_only_endpoint_is_unavailable():
    with OpenAIFake(chat_only=True) as fake:
        backend = backend_from_spec(f"openai:{fake.url}/v1#gerbil-coder")
        try:
            with pytest.raises(BackendUnavailable, match="404"):
                await backend.complete(FIM, max_tokens=8, temperature=0.0)
        finally:
            await backend.aclose()


async def test_key_from_settings_is_sent_as_bearer(monkeypatch):
    monkeypatch.setenv("GERBIL_LSP_KEY_MY_ENDPOINT", "sk-test-abcdefghijklmnopqrstuvwx")
    with OpenAIFake(api_key="sk-test-abcdefghijklmnopqrstuvwx") as fake:
        settings = ModelSettings(backend="openai", model="gerbil-coder", base_url=f"{fake.url}/v1",
                                 api_key_name="my-endpoint")
        backend = backend_from_settings(settings)
        try:
            done = await backend.complete(FIM, max_tokens=8, temperature=0.0)
        finally:
            await backend.aclose()
        assert done.text


async def test_wrong_key_is_unavailable_and_not_echoed(monkeypatch):
    with OpenAIFake(api_key="sk-right-abcdefghijklmnopqrstu") as fake:
        backend = OpenAICompatibleBackend(f"{fake.url}/v1", "gerbil-coder", api_key="sk-wrong-abcdefghijklmnopqrstu")
        try:
            with pytest.raises(BackendUnavailable) as info:
                await backend.complete(FIM, max_tokens=8, temperature=0.0)
        finally:
            await backend.aclose()
        assert "refused the key" in str(info.value)
        assert "sk-wrong" not in str(info.value)


async def test_unknown_model_and_server_errors(openai_fake):
    missing = OpenAICompatibleBackend(f"{openai_fake.url}/v1", "no-such-model")
    try:
        with pytest.raises(BackendUnavailable, match="no-such-model"):
            await missing.complete(FIM, max_tokens=8, temperature=0.0)
        assert await missing.health() is False
    finally:
        await missing.aclose()
    openai_fake.fail_with = (503, {"error": {"message": "overloaded", "type": "server_error"}})
    backend = OpenAICompatibleBackend(f"{openai_fake.url}/v1", "gerbil-coder")
    try:
        with pytest.raises(BackendError, match="503"):
            await backend.complete(FIM, max_tokens=8, temperature=0.0)
    finally:
        await backend.aclose()


async def test_server_down_is_unavailable():
    backend = OpenAICompatibleBackend(f"{closed_port_url()}/v1", "gerbil-coder", timeout_s=2)
    try:
        with pytest.raises(BackendUnavailable, match="cannot reach"):
            await backend.complete(FIM, max_tokens=8, temperature=0.0)
        assert await backend.health() is False
    finally:
        await backend.aclose()


async def test_health_lists_models(openai_fake):
    backend = OpenAICompatibleBackend(f"{openai_fake.url}/v1", "gerbil-coder")
    try:
        assert await backend.health() is True
    finally:
        await backend.aclose()
    assert openai_fake.ledger.paths[-1] == "/v1/models"


async def test_cancelling_the_task_closes_the_sse_stream():
    with OpenAIFake(delay_s=0.02, token_delay_s=0.02) as fake:
        fake.responder = lambda body: " ".join(["tok"] * 50)
        backend = OpenAICompatibleBackend(f"{fake.url}/v1", "gerbil-coder")
        try:
            task = asyncio.create_task(backend.complete(FIM, max_tokens=200, temperature=0.0))
            await asyncio.sleep(0.15)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await fake.ledger.hang_up_seen()
        finally:
            await backend.aclose()
        assert (fake.ledger.started, fake.ledger.completed, fake.ledger.aborted) == (1, 0, 1)
