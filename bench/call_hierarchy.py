"""Call hierarchy and implementation benchmark: who calls a procedure, what it calls, what implements a method.

    .venv/bin/python bench/call_hierarchy.py --root GERBIL/src/std [--file io/bio/api.ss]
        [--name open-buffered-reader] [--method destroy] [--runs 5] [--out out/bench-call-hierarchy]

The server is started on ``--root`` as the editor's workspace (the bundled
index, the tree scanned as the workspace's own modules). The file defining
``--name`` is opened; then, as an editor or OpenCode's agent asks: prepare on the
name (the first answer waits for the workspace scan), incoming calls (every
``.ss`` file of the workspace searched, on a worker thread) and outgoing calls,
each timed on the client. Prints the callers found, by file, and the times.
Then go to implementation on ``--method`` at its first call (``{destroy conn}``)
in the tree: every ``defmethod`` of it in the workspace.
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


def first_call(root: Path, method: str) -> tuple[Path, types.Position] | None:
    """The first ``{method`` of the tree, in file order."""
    for path in sorted(root.rglob("*.ss")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for found in re.finditer(r"\{" + re.escape(method) + r"\s", text):
            at = found.start()
            if not text[:at].rstrip().endswith("(defmethod"):
                line = text.count("\n", 0, at)
                return path, types.Position(line=line, character=at + 1 - (text.rfind("\n", 0, at) + 1))
    return None


async def measure(root: Path, source: Path, name: str, method: str, runs: int) -> dict:
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
        implementations, implementation_ms, method_call = [], [], None
        call = first_call(root, method)
        if call is not None:
            path, position = call
            method_call = f"{path.relative_to(root)}:{position.line + 1}"
            client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=path.as_uri(), language_id="gerbil", version=1, text=path.read_text(encoding="utf-8"))))
            for _ in range(runs):
                t = time.perf_counter()
                implementations = await client.text_document_implementation_async(types.ImplementationParams(
                    text_document=types.TextDocumentIdentifier(uri=path.as_uri()), position=position)) or []
                implementation_ms.append(ms(t))
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
    files = Counter(Path(c.from_.uri.removeprefix("file://")).relative_to(root).as_posix() for c in calls)
    return {"name": name, "file": str(source.relative_to(root)), "first_prepare_ms": first_prepare,
            "prepare_ms": statistics.median(prepares), "incoming_ms": statistics.median(incomings),
            "outgoing_ms": statistics.median(outgoings), "callers": len(calls),
            "call_sites": sum(len(c.from_ranges) for c in calls), "files_with_callers": dict(files),
            "callees": [c.to.name for c in out], "runs": runs, "method": method, "method_call": method_call,
            "implementations": len(implementations),
            "implementation_files": len({at.uri for at in implementations}),
            "implementation_ms": statistics.median(implementation_ms) if implementation_ms else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="the workspace: e.g. a Gerbil checkout's src/std")
    parser.add_argument("--file", default="io/bio/api.ss", help="the file defining --name, under --root")
    parser.add_argument("--name", default="open-buffered-reader", help="a procedure defined as (def (NAME ...")
    parser.add_argument("--method", default="destroy", help="a method, for go to implementation at its first call")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("out/bench-call-hierarchy"))
    args = parser.parse_args()
    root = args.root.resolve()
    figures = asyncio.run(measure(root, root / args.file, args.name, args.method, args.runs))
    print(f"{figures['name']} ({figures['file']}) in {root}:")
    print(f"  prepare: first {figures['first_prepare_ms']:.0f} ms (waits for the workspace scan), "
          f"then median {figures['prepare_ms']:.1f} ms")
    print(f"  incoming calls: {figures['callers']} callers, {figures['call_sites']} call sites in "
          f"{len(figures['files_with_callers'])} files; median {figures['incoming_ms']:.0f} ms over {args.runs}")
    for file, count in sorted(figures["files_with_callers"].items()):
        print(f"    {file}: {count}")
    print(f"  outgoing calls: {len(figures['callees'])} callees ({', '.join(figures['callees'][:12])}"
          f"{'...' if len(figures['callees']) > 12 else ''}); median {figures['outgoing_ms']:.1f} ms")
    if figures["method_call"]:
        print(f"  go to implementation of {{{args.method} ...}} at {figures['method_call']}: "
              f"{figures['implementations']} defmethods in {figures['implementation_files']} files; "
              f"median {figures['implementation_ms']:.0f} ms")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "call_hierarchy.json").write_text(json.dumps(figures, indent=2))
    print(f"figures: {args.out / 'call_hierarchy.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
