"""``enough``: a backend stops generating once the completion has closed its form.

Each streaming backend runs through its real SDK against its loopback fake
(Ollama: NDJSON from /api/generate; OpenAI and Together: SSE from
/v1/completions). The fakes stream one token every 10 ms and record a
generation as aborted when the client hangs up mid-stream, which is what the
real servers do when a client closes the response (Ollama and vLLM cancel the
request's context). So "aborted, with far fewer tokens sent" is the evidence
that the server was told to stop, not just that we ignored the rest.
"""

from __future__ import annotations

import pytest

from gerbil_lsp.server.backends.base import ENOUGH
from gerbil_lsp.server.backends.ollama import OllamaBackend
from gerbil_lsp.server.backends.openai_compatible import OpenAICompatibleBackend
from gerbil_lsp.server.backends.together import TogetherBackend
from gerbil_lsp.server.completion.postprocess import Surroundings, postprocess
from gerbil_lsp.server.completion.postprocess.form_close import closed
from tests.fakes.ollama_fake import OllamaFake
from tests.fakes.openai_fake import OpenAIFake

PREFIX = "(import :std/sugar)\n\n(def (total xs)\n  (apply + "
SUFFIX = "))\n\n(def (main) (total [1 2 3]))\n"
# The model answers the cursor's form, then runs on into a definition nobody asked for.
RAMBLE = "xs))\n\n(def (mean xs)\n  (/ (total xs) (length xs)))\n\n(def (median xs)\n  (list-ref xs 0))\n"
KEY = "tgp_v1_abcdefghijklmnopqrstuvwxyz012345"


def ollama(fake):
    return OllamaBackend("qwen2.5-coder:7b", fake.url)


def openai(fake):
    return OpenAICompatibleBackend(f"{fake.url}/v1", "gerbil-coder")


def together(fake):
    return TogetherBackend("gerbil-coder", api_key=KEY, base_url=fake.url)


BACKENDS = {
    "ollama": (lambda: OllamaFake(token_delay_s=0.01), ollama),
    "openai": (lambda: OpenAIFake(token_delay_s=0.01), openai),
    "together": (lambda: OpenAIFake(token_delay_s=0.01, flavor="together", api_key=KEY,
                                    models=("gerbil-coder",)), together),
}


def test_closed_says_when_the_form_at_the_cursor_is_done():
    where = Surroundings(PREFIX, SUFFIX)
    assert not closed("x", where)
    assert not closed("xs", where)
    assert closed("xs)", where)  # the suffix already closes the (apply + ...): the rest is cut
    top = Surroundings("(import :std/sugar)\n\n", "\n")
    assert not closed("(def (f x)\n  (+ x 1)", top)
    assert closed("(def (f x)\n  (+ x 1))", top)  # one whole top-level form


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_stream_stops_once_enough_and_the_server_is_told(name):
    make_fake, make_backend = BACKENDS[name]
    where = Surroundings(PREFIX, SUFFIX)
    with make_fake() as fake:
        fake.responder = lambda body: RAMBLE
        backend = make_backend(fake)
        try:
            done = await backend.complete("<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>", max_tokens=200,
                                          temperature=0.0, enough=lambda text: closed(text, where))
        finally:
            await backend.aclose()
        await fake.ledger.hang_up_seen(2.0)
        # the fake saw the client hang up mid-stream: the generation was cut, not read to its end
        # (no clock involved: a loaded machine must not make this fail)
        assert (fake.ledger.started, fake.ledger.completed, fake.ledger.aborted) == (1, 0, 1)
    assert done.finish_reason == ENOUGH
    assert done.text.startswith("xs)") and len(done.text) < 10, done.text
    assert postprocess(done.text, where) == postprocess(RAMBLE, where) == "xs"


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_without_enough_the_whole_stream_is_read(name):
    make_fake, make_backend = BACKENDS[name]
    with make_fake() as fake:
        fake.token_delay_s = 0.0
        fake.responder = lambda body: RAMBLE
        backend = make_backend(fake)
        try:
            done = await backend.complete("<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>", max_tokens=200,
                                          temperature=0.0)
        finally:
            await backend.aclose()
        assert fake.ledger.completed == 1
    assert done.text == RAMBLE and done.finish_reason != ENOUGH
