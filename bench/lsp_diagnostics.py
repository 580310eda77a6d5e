"""Diagnostics benchmark: time on a 5,000-line file, and precision over a Gerbil source tree.

    python bench/lsp_diagnostics.py [--gerbil-src DIR] [--docs DIR] [--list-files]

Precision: the Gerbil source tree compiles, so every error we report on it is
a false positive. Prints the share of files with zero errors and the names
behind the most false errors (the main causes to fix); ``--list-files`` also
lists every file that still gets an error, with its first one.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from gerbil_lsp.core import collector
from gerbil_lsp.core.index import build_index, default_index
from gerbil_lsp.server import heap
from gerbil_lsp.server.analysis import analyze

console = Console()

SAMPLE_FORM = """(def (count-words-{n} text)
  (let ((table (make-hash-table)))
    (for-each (lambda (word) (hash-update! table word 1+ 0))
              (string-split text #\\space))
    (hash->list table)))
"""


def time_5000_lines(index, runs: int = 30) -> None:
    """Analyses of a 5,000-line file as the server makes them: on open, and on each edit while typing.

    Each run analyses a new version while the previous analysis is still held, as the server
    holds each open document's latest one. "On open" has no previous version to lend its
    per-form problems (and runs with CPython's default collector, then with the server's);
    "typing" edits one form in the middle of the file and passes the previous version.
    """
    text = "(import :std/iter)\n" + "".join(SAMPLE_FORM.format(n=i) for i in range(1000))
    lines = text.count("\n")
    held = analyze(text, "file:///bench.ss", index)
    held.problems  # noqa: B018 - fills the index's lazy caches, as a first keystroke does
    defaults = gc.get_threshold()
    # typing and deleting a name in the body of the form in the middle of the file
    middle = text.index("(hash->list table)", text.index("(count-words-500 text)"))
    typed = ["", "t", "ta", "tab", "ta", "t"]
    scenarios = (("on open, CPython's default GC", None, False), ("on open, the server's GC settings", True, False),
                 ("typing in one form, the server's GC settings", True, True))
    for label, tune, typing in scenarios:
        if tune:
            heap.tune_collector()
            heap.freeze_long_lived()
        times, after = [], []
        for i in range(runs):
            version = text[:middle] + typed[i % len(typed)] + text[middle:] if typing else text + " " * (i % 7)
            # as the server publishes: with its settings, the collector stays off until the diagnostics are out
            with collector.paused() if tune else contextlib.nullcontext():
                start = time.perf_counter()
                # as the server builds it: a big document read whole is kept out of the collector's passes
                with heap.built_out_of_sight(len(version)) if tune else contextlib.nullcontext():
                    fresh = analyze(version, "file:///bench.ss", index, previous=held if typing else None)
                fresh.problems  # noqa: B018 - the diagnostics are computed on first use
                times.append((time.perf_counter() - start) * 1000)
                out = time.perf_counter()
            if tune:  # the young pass the pause put off: it starts as the pause ends, and is over here
                gc.collect(0)
                after.append((time.perf_counter() - out) * 1000)
            held = fresh
        times.sort()
        then = f"; then the collector's young pass, after they are out: median {statistics.median(after):.1f} ms" \
            if after else ""
        console.print(f"diagnostics on a {lines}-line file, {label}: median {statistics.median(times):.1f} ms, "
                      f"p90 {times[int(0.9 * len(times)) - 1]:.1f} ms, best {times[0]:.1f} ms over {runs} runs "
                      f"({len(held.problems)} problems; target <= 50 ms){then}")
    gc.unfreeze()
    gc.set_threshold(*defaults)


def precision(index, tree: Path, list_files: bool = False) -> None:
    # bootstrap/ holds the compiler's generated, macro-expanded output and *.ssxi.ss files are
    # optimizer annotations: neither is code a person writes, so they are reported apart.
    every = sorted(tree.rglob("*.ss"))
    files = [p for p in every if "bootstrap" not in p.relative_to(tree).parts and not p.name.endswith(".ssxi.ss")]
    console.print(f"{len(every) - len(files)} generated files (bootstrap/, *.ssxi.ss) left out of {len(every)}")
    clean = 0
    causes: Counter = Counter()
    codes: Counter = Counter()
    examples: dict = {}
    failing: list[tuple[str, int, str]] = []
    for path in track(files, description="diagnosing", console=console):
        text = path.read_text(encoding="utf-8", errors="replace")
        errors = [p for p in analyze(text, path.as_uri(), index, path=str(path)).problems if p.severity == "error"]
        if not errors:
            clean += 1
        else:
            first = errors[0]
            failing.append((str(path.relative_to(tree)), len(errors),
                            f"{text.count(chr(10), 0, first.start) + 1}: {first.message}"))
        for problem in errors:
            codes[problem.code] += 1
            causes[(problem.code, problem.name)] += 1
            examples.setdefault((problem.code, problem.name), f"{path.relative_to(tree)}")
    share = 100 * clean / max(len(files), 1)
    console.print(f"[bold]{clean}/{len(files)} files with zero errors = {share:.1f}%[/] (target >= 95%)")
    console.print(f"false errors by kind: {dict(codes)}")
    table = Table(title="most frequent false errors")
    for column in ("kind", "name", "count", "first file"):
        table.add_column(column)
    for (code, name), count in causes.most_common(25):
        table.add_row(code, str(name), str(count), examples[(code, name)])
    console.print(table)
    if list_files:
        files_table = Table(title="files with errors")
        for column in ("file", "errors", "first error"):
            files_table.add_column(column)
        for rel, count, first in sorted(failing, key=lambda row: (-row[1], row[0])):
            files_table.add_row(rel, str(count), first)
        console.print(files_table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gerbil-src", type=Path)
    parser.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpus/gerbil/doc")
    parser.add_argument("--list-files", action="store_true", help="list every file that gets an error")
    args = parser.parse_args()
    if args.gerbil_src:
        start = time.perf_counter()
        index = build_index(args.docs if args.docs.is_dir() else None, args.gerbil_src)
        console.print(f"index built in {time.perf_counter() - start:.1f} s")
    else:
        index = default_index()
    time_5000_lines(index)
    if args.gerbil_src:
        precision(index, args.gerbil_src, args.list_files)


if __name__ == "__main__":
    main()
