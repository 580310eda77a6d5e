"""ModelCompleter end to end over a real SDK and a loopback fake: debounce, cancellation, cache, outages.

The LSP layer is tested through a real server process in test_inline_completion.py;
here the completer is driven directly with pygls documents, to count what reaches
the backend.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from gerbil_lsp.core.settings import CompletionSettings, ModelSettings, Settings
from gerbil_lsp.server.backends.ollama import OllamaBackend
from gerbil_lsp.server.completion.completer import ModelCompleter
from gerbil_lsp.server.completion.latency import LatencyLog, latency_summary
from gerbil_lsp.server.completion.shown import ACCEPTED_COMMAND
from tests.fakes.fixtures import closed_port_url
from tests.fakes.ollama_fake import OllamaFake

URI = "file:///work/demo/main.ss"
TEXT = "(import :std/iter)\n\n(def (square x)\n  (* x ))\n"
CURSOR = types.Position(line=3, character=7)  # after "(* x "


def make_completer(url: str, tmp_path, **completion) -> tuple[ModelCompleter, list]:
    said: list = []
    settings = CompletionSettings(**{"debounce_ms": 20, "budget_ms": 2000, **completion})
    completer = ModelCompleter(
        OllamaBackend("qwen2.5-coder:7b", url, timeout_s=5),
        model=ModelSettings(backend="ollama", model="qwen2.5-coder:7b", max_tokens=32),
        completion=settings,
        latency=LatencyLog(tmp_path / "latency.sqlite"),
        notify=lambda message, kind: said.append((kind, message)),
    )
    return completer, said


def doc(text: str = TEXT, version: int = 1) -> TextDocument:
    return TextDocument(URI, text, version)


async def test_inline_completion_is_postprocessed_and_carries_the_command(tmp_path):
    with OllamaFake() as fake:
        fake.responder = lambda body: "x))\n\n(def (cube x) (* x x x))"
        completer, _ = make_completer(fake.url, tmp_path)
        try:
            items = await completer.inline_completions(doc(), CURSOR, None)
        finally:
            await completer.aclose()
        assert [i.insert_text for i in items] == ["x"]  # the suffix closes the form already
        item = items[0]
        assert item.range == types.Range(start=CURSOR, end=CURSOR)
        assert item.command.command == ACCEPTED_COMMAND
        shown = completer.shown.get(item.command.arguments[0]["id"])
        assert shown.text == "x" and shown.uri == URI and shown.prefix.endswith("(* x ")
        cut = TEXT.index("(* x ") + 5
        assert fake.ledger.requests[-1]["prompt"] == f"<|fim_prefix|>{TEXT[:cut]}<|fim_suffix|>{TEXT[cut:]}<|fim_middle|>"


async def test_generation_stops_once_the_form_is_closed(tmp_path):
    """The model runs on past the cursor's form; the completer hangs up there, and shows the same text."""
    with OllamaFake(token_delay_s=0.01) as fake:
        fake.responder = lambda body: "x))\n\n(def (cube x)\n  (* x x x))\n\n(def (quad x)\n  (* x x x x))\n"
        completer, _ = make_completer(fake.url, tmp_path, budget_ms=5000)
        try:
            items = await completer.inline_completions(doc(), CURSOR, None)
            await fake.ledger.hang_up_seen()
        finally:
            await completer.aclose()
        assert [i.insert_text for i in items] == ["x"]
        assert (fake.ledger.started, fake.ledger.completed, fake.ledger.aborted) == (1, 0, 1)


async def test_burst_of_keystrokes_starts_one_generation(tmp_path):
    with OllamaFake(delay_s=0.05) as fake:
        completer, _ = make_completer(fake.url, tmp_path, debounce_ms=60)
        try:
            text = TEXT
            requests = []
            for i in range(10):
                text = text[:-3] + "y" + text[-3:]  # typing before "))\n"
                position = types.Position(line=3, character=7 + i + 1)
                requests.append(asyncio.create_task(completer.inline_completions(doc(text, i + 2), position, None)))
                await asyncio.sleep(0.02)
            results = await asyncio.gather(*requests)
        finally:
            await completer.aclose()
        assert all(r == [] for r in results[:-1])
        assert fake.ledger.started == 1 and fake.ledger.completed == 1


async def test_newer_keystroke_aborts_the_generation_in_flight(tmp_path):
    with OllamaFake(delay_s=0.3) as fake:
        completer, _ = make_completer(fake.url, tmp_path, debounce_ms=0)
        try:
            first = asyncio.create_task(completer.inline_completions(doc(), CURSOR, None))
            await asyncio.sleep(0.1)  # the first generation is under way
            second = await completer.inline_completions(doc(TEXT, 2), types.Position(line=3, character=6), None)
            assert await first == []
            await fake.ledger.hang_up_seen()
        finally:
            await completer.aclose()
        assert second  # the newest request got its completion
        assert fake.ledger.started == 2 and fake.ledger.aborted == 1 and fake.ledger.completed == 1


async def test_cancel_request_aborts_the_backend_request(tmp_path):
    with OllamaFake(delay_s=0.3) as fake:
        completer, _ = make_completer(fake.url, tmp_path, debounce_ms=0)
        try:
            task = asyncio.create_task(completer.inline_completions(doc(), CURSOR, None))
            await asyncio.sleep(0.1)
            task.cancel()  # what pygls does on $/cancelRequest
            with pytest.raises(asyncio.CancelledError):
                await task
            await fake.ledger.hang_up_seen()
        finally:
            await completer.aclose()
        assert (fake.ledger.started, fake.ledger.completed, fake.ledger.aborted) == (1, 0, 1)


async def test_typing_what_was_suggested_needs_no_new_request(tmp_path):
    text = "(def (lookup h k)\n  (hash-)\n"
    with OllamaFake() as fake:
        fake.responder = lambda body: "ref h k"
        completer, _ = make_completer(fake.url, tmp_path)
        try:
            first = await completer.inline_completions(doc(text), types.Position(line=1, character=8), None)
            typed = text.replace("(hash-)", "(hash-ref h)")
            rest = await completer.inline_completions(doc(typed, 2), types.Position(line=1, character=13), None)
        finally:
            await completer.aclose()
        assert first[0].insert_text == "ref h k"
        assert rest[0].insert_text == " k"
        assert fake.ledger.started == 1  # the second came from the cache


async def test_backend_down_says_so_once_and_answers_at_once(tmp_path):
    completer, said = make_completer(closed_port_url(), tmp_path, debounce_ms=0)
    try:
        assert await completer.inline_completions(doc(), CURSOR, None) == []
        started = time.perf_counter()
        for i in range(20):
            assert await completer.inline_completions(doc(TEXT, i + 2), CURSOR, None) == []
        elapsed = time.perf_counter() - started
        assert await completer.completion_items(doc(TEXT, 50), CURSOR) == []
    finally:
        await completer.aclose()
    assert len(said) == 1 and "unavailable" in said[0][1] and said[0][0] == types.MessageType.Warning
    assert elapsed < 0.5  # backing off: no connection attempt per keystroke


async def test_backend_comes_back_after_backoff(tmp_path):
    with OllamaFake() as fake:
        fake.fail_with = (500, {"error": "runner crashed"})
        completer, said = make_completer(fake.url, tmp_path, debounce_ms=0)
        completer.health.base_s = 0.05
        try:
            assert await completer.inline_completions(doc(), CURSOR, None) == []
            fake.fail_with = None
            assert await completer.inline_completions(doc(TEXT, 2), CURSOR, None) == []  # still backing off
            await asyncio.sleep(0.06)
            items = await completer.inline_completions(doc(TEXT, 3), CURSOR, None)
        finally:
            await completer.aclose()
        assert items  # retried after the backoff and got through
        assert [kind for kind, _ in said] == [types.MessageType.Warning, types.MessageType.Info]


async def test_slow_backend_answers_within_budget_then_fills_the_cache(tmp_path):
    with OllamaFake(delay_s=0.4) as fake:
        completer, said = make_completer(fake.url, tmp_path, debounce_ms=0, budget_ms=100)
        try:
            started = time.perf_counter()
            assert await completer.completion_items(doc(), CURSOR) == []
            assert time.perf_counter() - started < 0.3
            await asyncio.sleep(0.5)  # the generation finished meanwhile, into the cache
            items = await completer.completion_items(doc(), CURSOR)
        finally:
            await completer.aclose()
        assert len(said) == 1 and "completion.budget_ms" in said[0][1]
        assert items and items[0].kind == types.CompletionItemKind.Snippet
        assert fake.ledger.started == 1


async def test_completion_item_replaces_the_word_before_the_cursor(tmp_path):
    text = "(def (f h)\n  (hash-)\n"
    with OllamaFake() as fake:
        fake.responder = lambda body: "keys h"
        completer, _ = make_completer(fake.url, tmp_path)
        try:
            items = await completer.completion_items(doc(text), types.Position(line=1, character=8))
        finally:
            await completer.aclose()
    item = items[0]
    assert item.text_edit.new_text == "hash-keys h"
    assert item.text_edit.range.start == types.Position(line=1, character=3)
    assert item.filter_text.startswith("hash-")
    assert item.command.command == ACCEPTED_COMMAND


async def test_accepted_reaches_subscribers(tmp_path):
    with OllamaFake() as fake:
        completer, _ = make_completer(fake.url, tmp_path)
        heard = []
        completer.on_accepted.append(lambda cid, shown: heard.append((cid, shown.text)))
        try:
            items = await completer.inline_completions(doc(), CURSOR, None)
        finally:
            await completer.aclose()
        cid = items[0].command.arguments[0]["id"]
        assert completer.accepted(cid).text == items[0].insert_text
        assert heard == [(cid, items[0].insert_text)]


async def test_latency_is_recorded_per_request(tmp_path):
    with OllamaFake(delay_s=0.02) as fake:
        completer, _ = make_completer(fake.url, tmp_path)
        try:
            for version in range(3):
                await completer.inline_completions(doc(TEXT, version), CURSOR, None)
        finally:
            await completer.aclose()
    summary = latency_summary(tmp_path / "latency.sqlite")
    assert summary["ollama"]["outcomes"] == {"ok": 1, "cached": 2}
    assert summary["ollama"]["p50_ms"] >= 20


def test_from_settings_none_and_broken():
    assert ModelCompleter.from_settings(Settings()) is None
    broken = ModelCompleter.from_settings(Settings(model=ModelSettings(backend="openai", model="m")))
    assert broken is not None and broken.backend is None and "base_url" in broken.unavailable


async def test_apply_settings_swaps_the_backend_and_keeps_subscribers(tmp_path):
    with OllamaFake() as first, OllamaFake() as second:
        first.responder = lambda body: "1"
        second.responder = lambda body: "2"
        completer, said = make_completer(first.url, tmp_path)
        heard = []
        completer.on_accepted.append(lambda cid, shown: heard.append(shown.text))
        try:
            one = await completer.inline_completions(doc(), CURSOR, None)
            await completer.apply_settings(Settings(
                model=ModelSettings(backend="ollama", model="qwen2.5-coder:7b", base_url=second.url),
                completion=CompletionSettings(debounce_ms=0)))
            two = await completer.inline_completions(doc(), CURSOR, None)  # same cursor: cache was cleared
            await completer.apply_settings(Settings())  # backend "none": quietly nothing
            none = await completer.inline_completions(doc(), CURSOR, None)
        finally:
            await completer.aclose()
        assert [one[0].insert_text, two[0].insert_text, none] == ["1", "2", []]
        assert completer.debouncer.delay_s == 0.15 and said == []  # the defaults of the last settings
        completer.accepted(two[0].command.arguments[0]["id"])
        assert heard == ["2"]
