"""Workspace indexing benchmark: how long the server takes to learn a workspace's own modules,
and what editing feels like meanwhile.

    .venv/bin/python bench/workspace_scan.py [--root DIR] [--modules 300] [--out out/bench-workspace]

Through the real server over stdio, with an editor that shows work-done progress:
the time from ``initialized`` to the end of the scan's ``$/progress``, and the
hover round trip on an open file while the scan runs (the worker thread shares
the interpreter with the event loop) against the same requests once it is over.
In process, the same scan split into the worker thread's part and the part that
holds the event loop (putting the results into the index). ``--root`` takes a
real tree (a Gerbil checkout's ``src/std``); by default a project of
``--modules`` files that import each other is written to a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lsp_latency import percentile  # noqa: E402

MODULE = """(import :std/sugar{imports})
(export {name}-total {name}-scale)

(def ({name}-total xs)
  (let loop ((xs xs) (acc 0))
    (if (null? xs) acc (loop (cdr xs) (+ acc (car xs))))))

(def ({name}-scale xs (k 2))
  (map (lambda (x) (* k x)) xs))
"""


def write_project(folder: Path, modules: int) -> Path:
    """A project of ``modules`` files, each importing the two before it, padded to ~150 lines."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gerbil.pkg").write_text("(package: benchapp)\n")
    padding = "".join(f"\n(def (helper-{i} x) (+ x {i}))\n" for i in range(45))
    for n in range(modules):
        imports = "".join(f" ./m{k}" for k in range(max(0, n - 2), n))
        (folder / f"m{n}.ss").write_text(MODULE.format(name=f"m{n}", imports=imports) + padding)
    return folder


def in_process(root: Path, limit: int) -> dict:
    from gerbil_lsp.core.index import load_index
    from gerbil_lsp.server.workspace import _module_rows, workspace_files

    index = load_index(None)
    start = time.perf_counter()
    paths = workspace_files(str(root), limit, index)
    scanned = _module_rows(index, paths, {}, str(root))
    thread_s = time.perf_counter() - start
    start = time.perf_counter()
    changed = sum(index.replace_module(mid, module.rows, module.path) for mid, module in scanned.items())
    commit_ms = (time.perf_counter() - start) * 1000
    return {"files": len(paths), "modules": len(scanned), "changed": changed, "worker_thread_s": thread_s,
            "event_loop_commit_ms": commit_ms}


async def through_server(root: Path, hovers_every_s: float = 0.02) -> dict:
    client = LanguageClient("gerbil-lsp-bench", "1")
    began, ended = asyncio.Event(), asyncio.Event()
    reports = []
    times: dict[str, float] = {}

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create(params: types.WorkDoneProgressCreateParams) -> None:
        return None

    @client.feature(types.PROGRESS)
    def progress(params: types.ProgressParams) -> None:
        kind = params.value.get("kind") if isinstance(params.value, dict) else getattr(params.value, "kind", None)
        if kind == "begin":
            times["begin"] = time.perf_counter()
            began.set()
        elif kind == "report":
            reports.append(params.value)
        elif kind == "end":
            times["end"] = time.perf_counter()
            ended.set()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params: types.PublishDiagnosticsParams) -> None:
        pass

    await client.start_io(sys.executable, "-m", "gerbil_lsp", "serve")
    try:
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True)),
            root_uri=root.as_uri()))
        client.initialized(types.InitializedParams())
        files = sorted(root.rglob("*.ss"))
        uri = files[len(files) // 2].as_uri()
        text = files[len(files) // 2].read_text()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=text)))
        at = types.Position(line=3, character=8)

        async def hover() -> float:
            t = time.perf_counter()
            await client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=at))
            return (time.perf_counter() - t) * 1000

        await asyncio.wait_for(began.wait(), 60)
        during = []
        while not ended.is_set():
            during.append(await hover())
            await asyncio.sleep(hovers_every_s)
        after = []
        for _ in range(max(len(during), 50)):
            after.append(await hover())
            await asyncio.sleep(hovers_every_s)
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
    return {"scan_seen_by_editor_s": times["end"] - times["begin"], "progress_reports": len(reports),
            "hover_during": during, "hover_after": after}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="a real tree to index (default: a generated project)")
    parser.add_argument("--modules", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("out/bench-workspace"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gerbil-lsp-ws-") as tmp:
        root = args.root.resolve() if args.root else write_project(Path(tmp) / "benchapp", args.modules)
        split = in_process(root, 2000)
        seen = asyncio.run(through_server(root))
    during, after = seen["hover_during"], seen["hover_after"]
    print(f"workspace {root}: {split['files']} files -> {split['modules']} modules")
    print(f"  in process: worker thread {split['worker_thread_s']:.2f} s (reading and scanning), "
          f"event loop {split['event_loop_commit_ms']:.1f} ms (into the index)")
    print(f"  through the server: progress shown for {seen['scan_seen_by_editor_s']:.2f} s "
          f"({seen['progress_reports']} reports)")
    print(f"  hover round trip while it scans: p50 {percentile(during, 50):.2f} ms, p99 {percentile(during, 99):.2f} ms, "
          f"max {max(during):.2f} ms over {len(during)}; after: p50 {percentile(after, 50):.2f} ms, "
          f"p99 {percentile(after, 99):.2f} ms (mean {statistics.fmean(after):.2f})")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "workspace_scan.json").write_text(json.dumps({"root": str(root), **split, **seen}, indent=2))
    print(f"figures: {args.out / 'workspace_scan.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
