"""The completion pipeline's parts: prompt, token budget, cache, debounce, backoff, latency, registry."""

from __future__ import annotations

import asyncio
import math

from lsprotocol import types

from gerbil_lsp.core.index import Symbol, SymbolIndex
from gerbil_lsp.server.completion.cache import CompletionCache
from gerbil_lsp.server.completion.context import ImportSignatures, RecentFiles, import_forms_text
from gerbil_lsp.server.completion.debounce import Debouncer
from gerbil_lsp.server.completion.health import BackendHealth
from gerbil_lsp.server.completion.latency import (
    LatencyLog,
    LatencyRecord,
    latency_file,
    latency_summary,
)
from gerbil_lsp.server.completion.prompt import (
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    REPO_NAME,
    STOP_TOKENS,
    ContextFile,
    PromptBudget,
    build_prompt,
    cut_prefix,
    strip_fences,
)
from gerbil_lsp.server.completion.shown import (
    ACCEPTED_COMMAND,
    ShownCompletions,
    ShownModelCompletion,
    accepted_command,
)
from gerbil_lsp.server.completion.tokens import CharEstimate, token_counter

# ---------------------------------------------------------------------------- prompt


def test_file_level_prompt_is_qwen_fim():
    prompt = build_prompt("(def (f x)\n  ", "\n  x)\n", budget=PromptBudget(repo_context_tokens=0))
    assert prompt.text == f"{FIM_PREFIX}(def (f x)\n  {FIM_SUFFIX}\n  x)\n{FIM_MIDDLE}"
    assert not prompt.repo_level


def test_empty_suffix_becomes_a_newline_for_ollama():
    prompt = build_prompt("(def x 1)\n", "")
    assert prompt.text.endswith(f"{FIM_SUFFIX}\n{FIM_MIDDLE}")


def test_stop_tokens_are_qwens_control_tokens():
    assert set(STOP_TOKENS) == {"<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
                                "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<|im_start|>", "<|im_end|>"}


def test_repo_level_prompt_puts_signatures_then_files_by_path_then_the_file():
    recent = [ContextFile("src/zeta.ss", "(def z 26)\n"), ContextFile("src/alpha.ss", "(def a 1)\n")]
    prompt = build_prompt("(def (g) ", ")", path="src/main.ss", repo_name="demo",
                          signatures=";; :std/iter\n(for (x xs) body ...)\n", recent=recent)
    assert prompt.repo_level
    text = prompt.text
    assert text.startswith(f"{REPO_NAME}demo\n{FILE_SEP}imports.signatures.ss\n;; :std/iter\n")
    assert text.index("src/alpha.ss") < text.index("src/zeta.ss") < text.index(f"{FILE_SEP}src/main.ss\n{FIM_PREFIX}")
    assert text.endswith(f"{FIM_PREFIX}(def (g) {FIM_SUFFIX}){FIM_MIDDLE}")


def test_context_is_budgeted_in_tokens():
    big = "".join(f"(def v{i} {i})\n" for i in range(2000))
    prompt = build_prompt("(", ")", recent=[ContextFile("big.ss", big)],
                          budget=PromptBudget(repo_context_tokens=100), counter=CharEstimate(3.0))
    context = prompt.text.split(f"{FILE_SEP}big.ss\n", 1)[1].split(FILE_SEP, 1)[0]
    assert 0 < len(context) <= 300
    assert context.endswith("\n")  # cut at a line end


def test_prefix_cut_is_stable_while_typing():
    counter = CharEstimate(3.0)
    base = "".join(f"(def (fn{i} x) (+ x {i}))\n" for i in range(400))
    starts = set()
    for typed in range(40):
        cut = cut_prefix(base + "x" * typed, 200, counter)
        assert len(cut) <= 600
        starts.add((base + "x" * typed).index(cut))
        assert cut.startswith("(def")  # at a line start
    # The head moves in steps of a quarter budget (150 chars here), not per keystroke:
    # over 40 keystrokes it moves at most once, so the KV cache of the prompt is reused.
    assert len(starts) <= 2


def test_real_tokenizer_counts_when_present(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(["(def (f x) (+ x 1))"] * 50, trainer)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    counter = token_counter(path)
    assert counter.name.startswith("tokenizer")
    text = "(def (f x) (+ x 1))\n" * 10
    n = counter.count(text)
    assert n == len(tokenizer.encode(text).ids)
    tail = counter.tail_chars(text, 5)
    assert counter.count(text[-tail:]) <= 6
    assert token_counter(tmp_path / "missing.json").name.startswith("estimate")


def test_strip_fences_from_chat_answers():
    assert strip_fences("```scheme\n(car xs)\n```") == "(car xs)"
    assert strip_fences("(car xs)") == "(car xs)"


# ---------------------------------------------------------------------------- context


def _index() -> SymbolIndex:
    return SymbolIndex([
        Symbol("for", ":std/iter", kind="macro", signatures=["(for (binding ...) body ...)"]),
        Symbol("in-range", ":std/iter", signatures=["(in-range end)", "(in-range start end [step])"]),
        Symbol("hash-ref", None, signatures=["(hash-ref table key [default])"]),
    ])


def test_import_signatures_come_from_the_index():
    text = "(import :std/iter)\n\n(def (f) (for (x (in-range 3)) x))\n"
    signatures = ImportSignatures(_index()).for_text(text, None)
    assert signatures.splitlines() == [";; :std/iter", "(for (binding ...) body ...)", "(in-range end)",
                                       "(in-range start end [step])"]


def test_import_forms_are_read_once():
    known: list[str] = []
    text = "(import :std/iter\n        :std/sugar)\n(def x 1)\n"
    assert import_forms_text(text, known) == "(import :std/iter\n        :std/sugar)"
    assert known == ["(import :std/iter\n        :std/sugar)"]
    assert import_forms_text(text + "(def y 2)\n", known) == known[0]


def test_recent_files_most_recent_first_without_the_current():
    recent = RecentFiles(limit=3)
    for name in ("a", "b", "c", "d"):
        recent.touch(f"file:///w/{name}.ss", f"({name})", 1)
    others = recent.others("file:///w/d.ss", "/w")
    assert [f.path for f in others] == ["c.ss", "b.ss"]  # a fell out, d is current


# ---------------------------------------------------------------------------- cache


def test_cache_exact_and_typed_ahead():
    cache = CompletionCache(8)
    prefix = "(def (f x)\n  (hash-"
    cache.put("u", prefix, ")\n", "ref table key")
    assert cache.get("u", prefix, ")\n") == "ref table key"
    assert cache.get("u", prefix + "ref ta", ")\n") == "ble key"  # typed what was suggested
    assert cache.get("u", prefix + "rem", ")\n") is None  # typed something else
    assert cache.get("u", prefix + "ref table key", ")\n") is None  # typed all of it
    assert cache.get("v", prefix, ")\n") is None and cache.get("u", prefix, "]\n") is None
    assert cache.typed_ahead_hits == 1


def test_cache_is_bounded_lru():
    cache = CompletionCache(3)
    for i in range(5):
        cache.put("u", f"p{i}", "", f"t{i}")
    assert len(cache) == 3
    assert cache.get("u", "p0", "") is None and cache.get("u", "p4", "") == "t4"


# ---------------------------------------------------------------------------- debounce, backoff


async def test_debounce_lets_only_the_last_of_a_burst_through():
    debouncer = Debouncer(30)

    async def keystroke(delay: float) -> bool:
        await asyncio.sleep(delay)
        return await debouncer.settle(debouncer.ticket())

    results = await asyncio.gather(*(keystroke(i * 0.005) for i in range(10)))
    assert results == [False] * 9 + [True]


def test_backoff_doubles_and_tells_once():
    now = [100.0]
    health = BackendHealth(base_s=1.0, cap_s=4.0, clock=lambda: now[0])
    assert health.available()
    assert health.failed("down") is True
    assert not health.available()
    now[0] += 1.0
    assert health.available()
    assert health.failed("down") is False  # same outage: nothing new to tell
    now[0] += 1.5
    assert not health.available()  # waits 2 s now
    now[0] += 0.5
    health.failed("down")
    now[0] += 3.9
    assert not health.available()  # capped at 4 s
    now[0] += 0.1
    assert health.available()
    assert health.succeeded() is True and health.succeeded() is False


# ---------------------------------------------------------------------------- latency


def test_latency_records_and_summary(tmp_path):
    log = LatencyLog(tmp_path / "latency.sqlite")
    for ms in range(1, 101):
        log.record(LatencyRecord(ts=1.0, backend="ollama", model="m", outcome="ok", total_ms=float(ms),
                                 backend_ms=ms - 0.5))
    log.record(LatencyRecord(ts=1.0, backend="ollama", model="m", outcome="cached", total_ms=0.1))
    log.record(LatencyRecord(ts=1.0, backend="openai", model="n", outcome="error", total_ms=5.0))
    log.close()
    summary = latency_summary(tmp_path / "latency.sqlite")
    assert summary["ollama"]["requests"] == 101 and summary["ollama"]["timed"] == 100
    assert summary["ollama"]["p50_ms"] == 50.0 and summary["ollama"]["p95_ms"] == 95.0
    assert summary["ollama"]["backend_p95_ms"] == 94.5
    assert summary["ollama"]["outcomes"] == {"ok": 100, "cached": 1}
    assert math.isnan(summary["openai"]["p50_ms"]) and summary["openai"]["outcomes"] == {"error": 1}


def test_latency_file_lives_in_the_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GERBIL_LSP_HOME", str(tmp_path))
    assert latency_file() == tmp_path / "state" / "latency.sqlite"
    assert latency_summary() == {}


# ---------------------------------------------------------------------------- shown registry


def test_registry_tells_subscribers_and_forgets_old_entries():
    shown = ShownCompletions(limit=2)
    heard: list = []
    shown.on_accepted.append(lambda cid, item: heard.append((cid, item.text)))
    shown.on_shown.append(lambda uri, items, text: heard.append(("shown", uri, len(items), text)))
    items = [ShownModelCompletion(id=f"id{i}", uri="file:///a.ss", text=f"t{i}", start=types.Position(0, 0),
                                  prefix="", suffix="", backend="ollama", model="m") for i in range(3)]
    for item in items:
        shown.add([item], "doc")
    assert len(shown) == 2 and shown.get("id0") is None
    assert shown.accepted("id2").text == "t2"
    assert shown.accepted("id2") is None  # once
    assert shown.accepted("nope") is None
    assert heard[-1] == ("id2", "t2") and heard[0] == ("shown", "file:///a.ss", 1, "doc")
    command = accepted_command(items[1])
    assert command.command == ACCEPTED_COMMAND and command.arguments[0]["id"] == "id1"
