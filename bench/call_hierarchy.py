"""Call hierarchy benchmark: who calls a procedure, and what it calls, in a real tree, through the server.

    .venv/bin/python bench/call_hierarchy.py --root GERBIL/src/std [--file io/bio/api.ss]
        [--name open-buffered-reader] [--runs 5] [--out out/bench-call-hierarchy]

The server is started on ``--root`` as the editor's workspace (the bundled
index, the tree scanned as the workspace's own modules). The file defining
``--name`` is opened; then, as an editor or OpenCode's agent asks: prepare on the
name (the first answer waits for the workspace scan), incoming calls (every
``.ss`` file of the workspace searched, on a worker thread) and outgoing calls,
each timed on the client. Prints the callers found, by file, and the times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent


async def measure(root: Path, source: Path, name: str, runs: int) -> dict:
    text = source.read_text(encoding="utf-8")
    found = re.search(r"^\(def\s+\(" + re.escape(name) + r"[\s)]", text, re.M)
    if found is None:
        raise SystemExit(f"{source}: no (def ({name} ...) at the start of a line: pick another --name")
    before = text[: found.start() + len("(def (")]
    at = types.Position(line=before.count("\n"), character=len(before) - before.rfind("\n") - 1)
    uri = source.as_uri()
    client = LanguageClient("gerbil-lsp-bench", "1")

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params: types.PublishDiagnosticsParams) -> None:
        pass

    def ms(since: float) -> float:
        return (time.perf_counter() - since) * 1000

    await client.start_io(sys.executable, "-m", "gerbil_lsp", "serve")
    try:
        await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                             root_uri=root.as_uri()))
        client.initialized(types.InitializedParams())
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=text)))
        prepare = types.CallHierarchyPrepareParams(text_document=types.TextDocumentIdentifier(uri=uri), position=at)
        t = time.perf_counter()
        items = await client.text_document_prepare_call_hierarchy_async(prepare)
        first_prepare = ms(t)
        if not items:
            raise SystemExit(f"no call hierarchy item for {name} at {source}:{at.line + 1}")
        item = items[0]
        prepares, incomings, outgoings = [], [], []
        for _ in range(runs):
            t = time.perf_counter()
            await client.text_document_prepare_call_hierarchy_async(prepare)
            prepares.append(ms(t))
            t = time.perf_counter()
            calls = await client.call_hierarchy_incoming_calls_async(types.CallHierarchyIncomingCallsParams(item=item))
            incomings.append(ms(t))
            t = time.perf_counter()
            out = await client.call_hierarchy_outgoing_calls_async(types.CallHierarchyOutgoingCallsParams(item=item))
            outgoings.append(ms(t))
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
    files = Counter(Path(c.from_.uri.removeprefix("file://")).relative_to(root).as_posix() for c in calls)
    return {"name": name, "file": str(source.relative_to(root)), "first_prepare_ms": first_prepare,
            "prepare_ms": statistics.median(prepares), "incoming_ms": statistics.median(incomings),
            "outgoing_ms": statistics.median(outgoings), "callers": len(calls),
            "call_sites": sum(len(c.from_ranges) for c in calls), "files_with_callers": dict(files),
            "callees": [c.to.name for c in out], "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="the workspace: e.g. a Gerbil checkout's src/std")
    parser.add_argument("--file", default="io/bio/api.ss", help="the file defining --name, under --root")
    parser.add_argument("--name", default="open-buffered-reader", help="a procedure defined as (def (NAME ...")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("out/bench-call-hierarchy"))
    args = parser.parse_args()
    root = args.root.resolve()
    figures = asyncio.run(measure(root, root / args.file, args.name, args.runs))
    print(f"{figures['name']} ({figures['file']}) in {root}:")
    print(f"  prepare: first {figures['first_prepare_ms']:.0f} ms (waits for the workspace scan), "
          f"then median {figures['prepare_ms']:.1f} ms")
    print(f"  incoming calls: {figures['callers']} callers, {figures['call_sites']} call sites in "
          f"{len(figures['files_with_callers'])} files; median {figures['incoming_ms']:.0f} ms over {args.runs}")
    for file, count in sorted(figures["files_with_callers"].items()):
        print(f"    {file}: {count}")
    print(f"  outgoing calls: {len(figures['callees'])} callees ({', '.join(figures['callees'][:12])}"
          f"{'...' if len(figures['callees']) > 12 else ''}); median {figures['outgoing_ms']:.1f} ms")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "call_hierarchy.json").write_text(json.dumps(figures, indent=2))
    print(f"figures: {args.out / 'call_hierarchy.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
