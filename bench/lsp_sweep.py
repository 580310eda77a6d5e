"""Every feature at many positions of real Gerbil files, through the server: failures and latency per feature.

    .venv/bin/python bench/lsp_sweep.py --root gerbil/src/std [--files 40] [--positions 12] [--seed 1]

The server runs over stdio with ``--root`` as its workspace (so references,
call hierarchy and implementations search real modules). For a sample of the
root's ``.ss`` files it opens each one, waits for its diagnostics, and asks
each position-taking feature at a sample of its symbols, plus the whole-file
ones once. It counts what failed: a JSON-RPC error other than a rename's or a
formatting's refusal, an answer whose range lies outside the document, an
"Error in server" message, or no answer within 30 s. Then it prints each
feature's p50/p99/max time, so a slow feature on real code shows up before a
user finds it. Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient
from rich.console import Console
from rich.progress import track
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lsp_latency import percentile  # noqa: E402
from gerbil_lsp.core.positions import LineIndex  # noqa: E402
from gerbil_lsp.core.reader import NodeKind, read_source  # noqa: E402

BOUND_S = 30.0
FORMATTING = types.FormattingOptions(tab_size=8, insert_spaces=True)
REFUSABLE = {"prepareRename", "formatting"}  # a refusal, with its reason, is their answer
console = Console()


def symbol_positions(text: str, count: int, rng: random.Random) -> list[types.Position]:
    """Up to ``count`` positions, each inside a symbol of the file (where features have something to say)."""
    symbols = [node for form in read_source(text).forms for node in form.walk() if node.kind is NodeKind.SYMBOL]
    picked = rng.sample(symbols, min(count, len(symbols)))
    positions = []
    for node in picked:
        start = node.span.start
        positions.append(types.Position(line=start.line, character=start.character + len(node.text) // 2))
    return positions


def ranges_in(answer, uri: str):
    """``(uri, range)`` for every LSP range in ``answer``: a range belongs to the nearest enclosing ``uri``.

    ``uri`` is the file the answer's bare ranges are in: the document asked about, or for outgoing
    calls the file of the item asked about; an incoming call's ranges are in its caller's file.
    """
    stack = [(answer, uri)]
    while stack:
        item, owner = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend((x, owner) for x in item)
        elif isinstance(item, types.Range):
            yield owner, item
        elif hasattr(item, "__attrs_attrs__"):
            if isinstance(item, types.CallHierarchyIncomingCall):
                owner = item.from_.uri
            owner = getattr(item, "uri", None) or getattr(item, "target_uri", None) or owner
            stack.extend((getattr(item, a.name), owner) for a in item.__attrs_attrs__)


class Texts(dict):
    """The text behind each URI: the open document's, else the file's on disk."""

    def __missing__(self, uri: str) -> LineIndex | None:
        path = Path(unquote(urlparse(uri).path))
        self[uri] = LineIndex(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else None
        return self[uri]


def outside(answer, uri: str, texts: Texts) -> tuple[str, types.Range] | None:
    """The first range of ``answer`` past the end of its file, with that file."""
    for owner, r in ranges_in(answer, uri):
        lines = texts[owner]
        if lines is None:
            continue
        for p in (r.start, r.end):
            if not 0 <= p.line <= lines.line_count:
                return owner, r
    return None


class Sweep:
    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.times: dict[str, list[float]] = defaultdict(list)
        self.failures: list[str] = []
        self.published: dict[str, asyncio.Future] = {}
        self.texts = Texts()
        self.slowest: list[tuple[float, str, str]] = []  # (ms, feature, where)

    async def ask(self, feature: str, request, uri: str, where: str):
        """``request``'s answer (None when it failed, which is recorded); ``uri``: where its bare ranges are."""
        started = time.perf_counter()
        try:
            answer = await asyncio.wait_for(request, BOUND_S)
        except JsonRpcException as error:
            if feature not in REFUSABLE:
                self.failures.append(f"{feature} at {where}: {error}")
            return None
        except TimeoutError:
            self.failures.append(f"{feature} at {where}: no answer in {BOUND_S:.0f} s")
            return None
        took = (time.perf_counter() - started) * 1000
        self.times[feature].append(took)
        self.slowest.append((took, feature, where))
        bad = outside(answer, uri, self.texts)
        if bad is not None:
            self.failures.append(f"{feature} at {where}: range {bad[1]} outside {bad[0]}")
        return answer

    async def file(self, path: Path, positions: int, rng: random.Random) -> None:
        c = self.client
        text = path.read_text(encoding="utf-8", errors="replace")
        uri = path.as_uri()
        self.texts[uri] = LineIndex(text)
        doc = types.TextDocumentIdentifier(uri=uri)
        arrived = self.published[uri] = asyncio.get_running_loop().create_future()
        c.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=text)))
        await asyncio.wait_for(arrived, BOUND_S)
        name = path.name
        whole = {
            "documentSymbol": c.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc)),
            "foldingRange": c.text_document_folding_range_async(types.FoldingRangeParams(text_document=doc)),
            "semanticTokens": c.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=doc)),
            "formatting": c.text_document_formatting_async(
                types.DocumentFormattingParams(text_document=doc, options=FORMATTING)),
        }
        for feature, request in whole.items():
            await self.ask(feature, request, uri, name)
        for p in symbol_positions(text, positions, rng):
            where = f"{name}:{p.line + 1}:{p.character + 1}"
            here = types.Range(start=p, end=p)
            # coroutines: each request is sent when awaited, in order
            at = {
                "completion": c.text_document_completion_async(
                    types.CompletionParams(text_document=doc, position=p)),
                "hover": c.text_document_hover_async(types.HoverParams(text_document=doc, position=p)),
                "signatureHelp": c.text_document_signature_help_async(
                    types.SignatureHelpParams(text_document=doc, position=p)),
                "definition": c.text_document_definition_async(
                    types.DefinitionParams(text_document=doc, position=p)),
                "implementation": c.text_document_implementation_async(
                    types.ImplementationParams(text_document=doc, position=p)),
                "references": c.text_document_references_async(types.ReferenceParams(
                    text_document=doc, position=p, context=types.ReferenceContext(include_declaration=True))),
                "documentHighlight": c.text_document_document_highlight_async(
                    types.DocumentHighlightParams(text_document=doc, position=p)),
                "selectionRange": c.text_document_selection_range_async(
                    types.SelectionRangeParams(text_document=doc, positions=[p])),
                "codeAction": c.text_document_code_action_async(types.CodeActionParams(
                    text_document=doc, range=here, context=types.CodeActionContext(diagnostics=[]))),
                "prepareRename": c.text_document_prepare_rename_async(
                    types.PrepareRenameParams(text_document=doc, position=p)),
            }
            for feature, request in at.items():
                await self.ask(feature, request, uri, where)
            items = await self.ask("prepareCallHierarchy", c.text_document_prepare_call_hierarchy_async(
                types.CallHierarchyPrepareParams(text_document=doc, position=p)), uri, where) or []
            for item in items[:1]:
                await self.ask("incomingCalls", c.call_hierarchy_incoming_calls_async(
                    types.CallHierarchyIncomingCallsParams(item=item)), item.uri, where)
                await self.ask("outgoingCalls", c.call_hierarchy_outgoing_calls_async(
                    types.CallHierarchyOutgoingCallsParams(item=item)), item.uri, where)
        c.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc))
        del self.texts[uri]


async def sweep(server: list[str], root: Path, files: list[Path], positions: int, rng: random.Random) -> Sweep:
    client = LanguageClient("gerbil-lsp-sweep", "1")
    result = Sweep(client)

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        waiter = result.published.pop(params.uri, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_message(params) -> None:
        if params.message.startswith("Error in server"):
            result.failures.append(params.message.splitlines()[0])

    with tempfile.TemporaryDirectory(prefix="gerbil-lsp-sweep-") as home:
        env = {**os.environ, "GERBIL_LSP_HOME": home}
        await client.start_io(*server, env=env, cwd=str(root))
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=root.as_uri(),
            initialization_options={"model": {"backend": "none"}, "diagnostics": {"debounce_ms": 0}}))
        client.initialized(types.InitializedParams())
        try:
            for path in track(files, description="sweeping", console=console):
                await result.file(path, positions, rng)
            await asyncio.wait_for(client.shutdown_async(None), BOUND_S)
            client.exit(None)
        finally:
            await client.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="a tree of Gerbil sources (the workspace)")
    parser.add_argument("--files", type=int, default=40, help="files sampled from the root")
    parser.add_argument("--positions", type=int, default=12, help="symbols asked about per file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", default=f"{shlex.quote(sys.executable)} -m gerbil_lsp serve")
    args = parser.parse_args()
    root = args.root.resolve()
    rng = random.Random(args.seed)
    everything = sorted(p for p in root.rglob("*.ss") if p.is_file())
    if not everything:
        console.print(f"[red]no .ss files under {root}[/red]: pass --root a tree of Gerbil sources")
        return 2
    files = rng.sample(everything, min(args.files, len(everything)))
    result = asyncio.run(sweep(shlex.split(args.server), root, files, args.positions, rng))
    table = Table(title=f"{len(files)} files of {root}, {args.positions} symbols each")
    for column in ("feature", "answers", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "feature" else "right")
    for feature, times in sorted(result.times.items()):
        table.add_row(feature, str(len(times)), f"{percentile(times, 50):.1f}", f"{percentile(times, 99):.1f}",
                      f"{max(times):.1f}")
    console.print(table)
    console.print("slowest: " + ", ".join(f"{feature} at {where} {ms:.0f} ms"
                                          for ms, feature, where in sorted(result.slowest, reverse=True)[:6]))
    console.print(f"failures: {len(result.failures)}")
    for failure in result.failures[:30]:
        console.print(f"  {failure}", markup=False)
    return 1 if result.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
