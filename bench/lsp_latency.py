"""Model-completion benchmark through the real language server over stdio.

1. Server overhead: 500 ``textDocument/inlineCompletion`` requests, each after a
   ``didChange`` (so each reaches the backend), against the loopback Ollama fake
   with a fixed 50 ms delay. Overhead = client-measured total - 50 ms.
   Target p99 <= 3 ms. The client waits ``--pause-ms`` (50) after each answer
   before the next edit, as a fast typist would; the server uses that time to
   reopen the connection the last stream took along. Run again back to back
   (no pause) to show what a client that never pauses gets.
2. Typing burst: 20 changes 30 ms apart, each followed by an inline completion
   request as editors send them, then a pause. Counts backend generations
   started and stale ones (not for the final text) that ran to completion.
   Target <= 2 started, 0 stale completed. Run with the default debounce, and
   again with debounce 0 to show that cancellation alone keeps stale work off
   the backend.
3. Diagnostics on a 5,000-line file, as the editor sees them: didOpen of new
   files, then edits in one form, each to its publishDiagnostics.
   Target <= 50 ms. (bench/lsp_diagnostics.py splits the same work in-process.)

For scale it also times the same request with no model configured (the LSP
round trip of client and server alone), and the fake's own time per
generation (50 ms plus writing the stream), so the overhead can be split into
transport, HTTP client and the completion pipeline.

    .venv/bin/python bench/lsp_latency.py [--requests 500] [--out out/bench-lsp-latency]
        [--server "python -m gerbil_lsp serve"]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lsp_diagnostics import SAMPLE_FORM  # noqa: E402
from tests.fakes.ollama_fake import OllamaFake  # noqa: E402

MODEL = "qwen2.5-coder:7b"
DELAY_S = 0.05
HEADER = "(import :std/iter :std/sugar)\n\n"
BODY = "(def (scale xs k)\n  (map (lambda (x) (* x k)) xs))\n\n(def (total xs)\n  (apply + "
TAIL = "))\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(-(-q * len(ordered) // 100)) - 1))]


def document(i: int) -> str:
    """Version ``i`` of the document: an edit above the cursor, so every prefix is new."""
    return f";; revision {i}\n" + HEADER + BODY + TAIL


def cursor(text: str) -> types.Position:
    before = text[: text.index(BODY) + len(BODY)]
    return types.Position(line=before.count("\n"), character=len(before) - before.rfind("\n") - 1)


class Session:
    def __init__(self, server: list[str], home: Path, fake: OllamaFake, completion: dict,
                 model: dict | None = None, diagnostics: dict | None = None) -> None:
        self.server, self.home, self.fake, self.completion = server, home, fake, completion
        self.model = model
        self.diagnostics = diagnostics or {}  # the server's defaults, but where diagnostics are what is timed
        self.client = LanguageClient("gerbil-lsp-bench", "1")
        self.uri = (home / "work" / "bench.ss").as_uri()
        self.version = 0
        self._published: dict[str, asyncio.Future] = {}

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            waiter = self._published.pop(params.uri, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())

    def published(self, uri: str) -> asyncio.Future:
        """Resolves to the time the next diagnostics for ``uri`` arrive."""
        waiter = self._published[uri] = asyncio.get_running_loop().create_future()
        return waiter

    async def __aenter__(self) -> Session:
        env = {**os.environ, "GERBIL_LSP_HOME": str(self.home),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        log = self.home / "server.log"
        command = " ".join(shlex.quote(part) for part in self.server) + f" 2>>{shlex.quote(str(log))}"
        await self.client.start_io("sh", "-c", f"exec {command}", env=env, cwd=str(self.home))
        model = self.model or {"backend": "ollama", "model": MODEL, "base_url": self.fake.url, "max_tokens": 32,
                                "timeout_s": 30}
        options = {"model": model, "completion": self.completion, "diagnostics": self.diagnostics}
        await self.client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=(self.home / "work").as_uri(),
            initialization_options=options,
        ))
        self.client.initialized(types.InitializedParams())
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=self.uri, language_id="gerbil", version=0, text=document(0))))
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        finally:
            await self.client.stop()

    def change(self, text: str) -> None:
        self.version += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))

    def ask(self, text: str):
        return self.client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri=self.uri),
            position=cursor(text)))


def shown(result) -> str | None:
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    return items[0].insert_text if items else None


async def overhead(server: list[str], home: Path, requests: int, pause_s: float) -> dict:
    with OllamaFake(models=(MODEL,), delay_s=DELAY_S) as fake:
        fake.responder = lambda body: "xs))\n\n(def (mean xs) (/ (total xs) (length xs)))"
        async with Session(server, home, fake, {"debounce_ms": 0, "budget_ms": 5000}) as session:
            for i in range(1, 21):  # warm up: imports, connections, caches
                text = document(-i)
                session.change(text)
                await session.ask(text)
            totals, empty = [], 0
            for i in range(1, requests + 1):
                text = document(i)
                session.change(text)
                started = time.perf_counter()
                result = await session.ask(text)
                totals.append((time.perf_counter() - started) * 1000)
                empty += shown(result) != "xs"
                await asyncio.sleep(pause_s)
            generations = fake.ledger.started
            connections = fake.ledger.connections
            fake_ms = fake.ledger.durations_ms[-requests:]
            handled_ms = fake.ledger.handled_ms[-requests:]
    over = [t - DELAY_S * 1000 for t in totals]
    # The fake's own time per generation (its 50 ms plus writing the stream): what is left
    # of the total is the language server, its HTTP client and the LSP round trip.
    net = [t - f for t, f in zip(totals, fake_ms, strict=True)]
    # ... and its whole handling of the request (Python's http.server parsing it, the answer's headers):
    # what a real Ollama does in microseconds. What is left is ours: LSP, pipeline, HTTP client.
    ours = [t - h for t, h in zip(totals, handled_ms, strict=True)]
    return {"requests": requests, "pause_ms": pause_s * 1000, "backend_delay_ms": DELAY_S * 1000,
            "generations": generations, "connections": connections,
            "wrong_or_empty": empty, "total_p50_ms": percentile(totals, 50), "overhead_p50_ms": percentile(over, 50),
            "overhead_p99_ms": percentile(over, 99), "overhead_mean_ms": statistics.fmean(over),
            "overhead_max_ms": max(over), "fake_p50_ms": percentile(fake_ms, 50),
            "net_overhead_p50_ms": percentile(net, 50), "net_overhead_p99_ms": percentile(net, 99),
            "ours_p50_ms": percentile(ours, 50), "ours_p99_ms": percentile(ours, 99),
            "overhead_ms": over}


async def floor(server: list[str], home: Path, requests: int) -> dict:
    """The same change + request with no model configured: the LSP round trip alone (client and server)."""
    with OllamaFake(models=(MODEL,)) as fake:
        async with Session(server, home, fake, {}, model={"backend": "none"}) as session:
            totals = []
            for i in range(requests + 20):
                text = document(i)
                session.change(text)
                started = time.perf_counter()
                await session.ask(text)
                totals.append((time.perf_counter() - started) * 1000)
    totals = totals[20:]
    return {"requests": requests, "p50_ms": percentile(totals, 50), "p99_ms": percentile(totals, 99)}


def big_file(n: int) -> str:
    """The 5,000-line file of bench/lsp_diagnostics.py, made new by its first line."""
    return f";; copy {n}\n(import :std/iter)\n" + "".join(SAMPLE_FORM.format(n=i) for i in range(1000))


async def diagnostics(server: list[str], home: Path, opens: int = 20, edits: int = 30) -> dict:
    """didOpen -> publishDiagnostics for new 5,000-line files, then edits in one form -> publishDiagnostics.

    As an editor sees them, through the server process (diagnostics debounce 0:
    what is timed is the work). Edits are incremental, a name typed and deleted
    in the middle of the file, as editors send them.
    """
    with OllamaFake(models=(MODEL,)) as fake:
        # debounce 0: what is timed is the work, not the pause the server waits
        async with Session(server, home, fake, {}, model={"backend": "none"},
                           diagnostics={"debounce_ms": 0}) as session:
            client = session.client
            on_open = []
            for n in range(opens + 2):  # the first two warm the caches a first keystroke would
                uri = (home / "work" / f"big{n}.ss").as_uri()
                text = big_file(n)
                arrived = session.published(uri)
                started = time.perf_counter()
                client.text_document_did_open(types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=0, text=text)))
                on_open.append((await asyncio.wait_for(arrived, 30) - started) * 1000)
                if n < opens + 1:
                    client.text_document_did_close(types.DidCloseTextDocumentParams(
                        text_document=types.TextDocumentIdentifier(uri=uri)))
            lines = text.count("\n")
            at = text.index("(hash->list table)", text.index("(count-words-500 text)"))
            line = text.count("\n", 0, at)
            column = at - text.rfind("\n", 0, at) - 1
            typing = []
            for i in range(edits):
                typed = i % 2 == 0  # type "t", then delete it
                position = types.Position(line=line, character=column)
                end = types.Position(line=line, character=column + (0 if typed else 1))
                arrived = session.published(uri)
                started = time.perf_counter()
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=i + 1),
                    content_changes=[types.TextDocumentContentChangePartial(
                        range=types.Range(start=position, end=end), text="t" if typed else "")]))
                typing.append((await asyncio.wait_for(arrived, 30) - started) * 1000)
    on_open = on_open[2:]
    return {"lines": lines, "opens": opens, "edits": edits,
            "open_p50_ms": percentile(on_open, 50), "open_p90_ms": percentile(on_open, 90),
            "typing_p50_ms": percentile(typing, 50), "typing_p90_ms": percentile(typing, 90)}


async def burst(server: list[str], home: Path, completion: dict, changes: int = 20, gap_s: float = 0.03) -> dict:
    with OllamaFake(models=(MODEL,), delay_s=DELAY_S) as fake:
        fake.responder = lambda body: "xs))"
        async with Session(server, home, fake, completion) as session:
            text = document(0)
            session.change(text)
            await asyncio.sleep(1.0)
            fake.ledger.reset()
            pending = []
            typed = ""
            for _ in range(changes):
                typed += "x"
                text = f";; revision 0\n{HEADER}{BODY}{typed}{TAIL}"
                session.change(text)
                position = cursor(text)
                position = types.Position(line=position.line, character=position.character + len(typed))
                # ensure_future: the client's *_async methods are coroutines, sent only when scheduled
                pending.append(asyncio.ensure_future(session.client.text_document_inline_completion_async(
                    types.InlineCompletionParams(
                        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
                        text_document=types.TextDocumentIdentifier(uri=session.uri), position=position))))
                await asyncio.sleep(gap_s)
            results = await asyncio.gather(*pending)
            await asyncio.sleep(1.0)  # the pause: anything still running would finish now
            ledger = fake.ledger
            final_prompt = ledger.requests[-1].get("prompt") if ledger.requests else None
            stale_completed = sum(1 for outcome, body in ledger.ended
                                  if outcome == "completed" and body.get("prompt") != final_prompt)
            final_shown = shown(results[-1])
    return {"changes": changes, "gap_ms": gap_s * 1000, "debounce_ms": completion.get("debounce_ms", 150),
            "started": ledger.started, "completed": ledger.completed, "aborted": ledger.aborted,
            "stale_completed": stale_completed, "final_request_answered": final_shown is not None}


def chart(figures: dict, out: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    over = figures["overhead"]["overhead_ms"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(over, bins=60, color="#4a7")
    for q, style in ((50, "--"), (99, ":")):
        left.axvline(percentile(over, q), color="k", linestyle=style, label=f"p{q} {percentile(over, q):.2f} ms")
    left.axvline(3.0, color="r", label="target p99 3 ms")
    left.set_xlabel("server overhead per model completion (ms)")
    left.set_ylabel("requests")
    left.legend()
    names = [f"debounce {b['debounce_ms']} ms" for b in figures["bursts"]]
    x = range(len(names))
    right.bar([i - 0.2 for i in x], [b["started"] for b in figures["bursts"]], width=0.4, label="generations started")
    right.bar([i + 0.2 for i in x], [b["stale_completed"] for b in figures["bursts"]], width=0.4,
              label="stale ran to completion")
    right.set_xticks(list(x), names)
    right.set_title("typing burst: 20 changes, 30 ms apart")
    right.legend()
    fig.tight_layout()
    path = out / "lsp_latency.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--pause-ms", type=float, default=50.0,
                        help="client pause after each answer before the next edit (a fast typist's keystroke gap)")
    parser.add_argument("--out", type=Path, default=Path("out/bench-lsp-latency"))
    parser.add_argument("--server", default=f"{shlex.quote(sys.executable)} -m gerbil_lsp serve",
                        help="command that runs the language server on stdio")
    args = parser.parse_args()
    server = shlex.split(args.server)
    with tempfile.TemporaryDirectory(prefix="gerbil-lsp-bench-") as tmp:
        home = Path(tmp)
        (home / "work").mkdir()
        figures = {"overhead": asyncio.run(overhead(server, home, args.requests, args.pause_ms / 1000)),
                   "overhead_back_to_back": asyncio.run(overhead(server, home, args.requests, 0.0)),
                   "lsp_round_trip_no_model": asyncio.run(floor(server, home, args.requests))}
        figures["diagnostics"] = asyncio.run(diagnostics(server, home))
        figures["bursts"] = [
            asyncio.run(burst(server, home, {})),
            asyncio.run(burst(server, home, {"debounce_ms": 0})),
        ]
    for o in (figures["overhead"], figures["overhead_back_to_back"]):
        print(f"server overhead over {o['requests']} model completions (fake backend delay "
              f"{o['backend_delay_ms']:.0f} ms), client pause between them {o['pause_ms']:.0f} ms:")
        print(f"  p50 {o['overhead_p50_ms']:.2f} ms   p99 {o['overhead_p99_ms']:.2f} ms   "
              f"mean {o['overhead_mean_ms']:.2f} ms   max {o['overhead_max_ms']:.2f} ms   (target p99 <= 3 ms)")
        print(f"  the fake's own time per generation p50 {o['fake_p50_ms']:.2f} ms (50 ms + streaming the tokens); "
              f"total minus that: p50 {o['net_overhead_p50_ms']:.2f} ms, p99 {o['net_overhead_p99_ms']:.2f} ms")
        print(f"  minus the fake's whole handling of each request (its Python HTTP server included): "
              f"p50 {o['ours_p50_ms']:.2f} ms, p99 {o['ours_p99_ms']:.2f} ms")
        print(f"  generations {o['generations']} over {o['connections']} connections, "
              f"answers not as expected {o['wrong_or_empty']}")
    f = figures["lsp_round_trip_no_model"]
    print(f"  for scale, didChange + inlineCompletion with no model (the LSP round trip alone): "
          f"p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms")
    for b in figures["bursts"]:
        print(f"typing burst, debounce {b['debounce_ms']} ms: {b['changes']} changes {b['gap_ms']:.0f} ms apart -> "
              f"started {b['started']}, completed {b['completed']}, aborted {b['aborted']}, "
              f"stale completed {b['stale_completed']}, final answered {b['final_request_answered']} "
              f"(target <= 2 started, 0 stale completed)")
    d = figures["diagnostics"]
    print(f"diagnostics on a {d['lines']}-line file through the server (didOpen / didChange -> publishDiagnostics, "
          f"debounce 0): on open p50 {d['open_p50_ms']:.1f} ms, p90 {d['open_p90_ms']:.1f} ms over {d['opens']} "
          f"files; typing in one form p50 {d['typing_p50_ms']:.1f} ms, p90 {d['typing_p90_ms']:.1f} ms over "
          f"{d['edits']} edits (target <= 50 ms)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lsp_latency.json").write_text(json.dumps(figures, indent=2))
    png = chart(figures, args.out)
    print(f"figures: {args.out / 'lsp_latency.json'}" + (f", chart: {png}" if png else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
