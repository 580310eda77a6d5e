"""A cut stream's connection is replaced in the background, so the next completion does not connect.

Each streaming backend runs through its real SDK (``ollama`` on httpx,
``openai`` 3 on httpx2, ``together`` on httpx) against its loopback fake. The
fakes count the TCP connections they accept and the HEAD requests they answer
(HEAD as GET without the body, as Go's net/http and uvicorn answer it; an
unknown path is a 404 that keeps the connection). The evidence that the pool
works: after a cut stream and a settled pool, the next completion arrives on
the connection the probe opened, so the fake has accepted no new one.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gerbil_lsp.server.backends.base import ENOUGH
from gerbil_lsp.server.backends.warm_pool import WarmPool, http_module_of
from gerbil_lsp.server.completion.postprocess import Surroundings
from gerbil_lsp.server.completion.postprocess.form_close import closed
from tests.server.test_backends_enough import BACKENDS, PREFIX, RAMBLE, SUFFIX

PROMPT = "<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>"


def enough(text: str) -> bool:
    return closed(text, Surroundings(PREFIX, SUFFIX))


@contextlib.asynccontextmanager
async def served(name: str, answer: str):
    """The backend ``name`` through its SDK, against its fake answering ``answer``; the backend closed after."""
    make_fake, make_backend = BACKENDS[name]
    with make_fake() as fake:
        fake.responder = lambda body: answer
        backend = make_backend(fake)
        try:
            yield fake, backend
        finally:
            await backend.aclose()


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_the_next_completion_uses_the_connection_opened_after_a_cut(name):
    async with served(name, RAMBLE) as (fake, backend):
        first = await backend.complete(PROMPT, max_tokens=200, temperature=0.0, enough=enough)
        await backend._pool.settled()
        assert first.finish_reason == ENOUGH
        assert await fake.ledger.hang_up_seen(2.0) == 1  # the deferred close still told the server to stop
        assert (fake.ledger.connections, fake.ledger.heads) == (2, 1)  # the cut one, and the probe's
        assert fake.ledger.heads_with_key == 0  # the probe carries no key, even to a keyed endpoint
        second = await backend.complete(PROMPT, max_tokens=200, temperature=0.0, enough=enough)
        await backend._pool.settled()
    assert second.text == first.text
    assert fake.ledger.connections == 3  # the second cut's probe; the second request itself opened none
    assert fake.ledger.started == 2


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_a_stream_read_to_its_end_keeps_its_connection(name):
    async with served(name, "xs))") as (fake, backend):
        for _ in range(3):
            done = await backend.complete(PROMPT, max_tokens=200, temperature=0.0)
            assert done.text == "xs))"
            await backend._pool.settled()
    if name == "together":  # its SDK drops the connection at [DONE]: 1 + a probe's after each; none by requests
        assert (fake.ledger.connections, fake.ledger.heads, fake.ledger.aborted) == (4, 3, 0)
    else:
        assert (fake.ledger.connections, fake.ledger.heads, fake.ledger.aborted) == (1, 0, 0)


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_a_cancelled_completion_is_closed_and_its_connection_replaced(name):
    async with served(name, RAMBLE) as (fake, backend):
        task = asyncio.ensure_future(backend.complete(PROMPT, max_tokens=200, temperature=0.0))
        while not fake.ledger.started:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.03)  # a few tokens in: a newer keystroke cancels it
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await backend._pool.settled()
        assert await fake.ledger.hang_up_seen(2.0) == 1
        assert fake.ledger.heads == 1


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_closing_the_backend_right_after_a_cut_leaves_nothing_behind(name):
    """The deferred close runs at once and the probe never starts: no task outlives the backend."""
    async with served(name, RAMBLE) as (fake, backend):
        await backend.complete(PROMPT, max_tokens=200, temperature=0.0, enough=enough)
        pool = backend._pool
        assert pool._scheduled  # the close and the probe wait for the answer to go out
        await backend.aclose()
        assert not pool._scheduled and not pool._running
        assert await fake.ledger.hang_up_seen(2.0) == 1
        assert fake.ledger.heads == 0


async def test_a_probe_to_a_server_that_is_gone_is_only_a_miss():
    pool = WarmPool()
    pool.root = pool._http.URL("http://127.0.0.1:9/")  # the discard port: nothing listens
    pool.cut()
    await pool.settled()
    await pool.aclose()


def test_the_pool_is_built_from_the_sdks_own_http_module():
    import httpx
    import openai
    import together

    assert http_module_of(together.DefaultAsyncHttpxClient) is httpx
    module = http_module_of(openai.DefaultAsyncHttpxClient)
    assert issubclass(openai.DefaultAsyncHttpxClient, module.AsyncClient)
