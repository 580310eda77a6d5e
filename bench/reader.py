"""Benchmark the Gerbil reader on a source tree.

Usage: python bench/reader.py DIR [--show N] [--repeat R]

Walks DIR for ``*.ss``, reads each with ``read_file`` and prints files, lines,
MB, seconds, files/s, MB/s and the files with errors (first few errors as
file:line:col message).  Shows a rich progress bar when rich is installed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gerbil_lsp.core.reader import ReadError, read_file  # noqa: E402


def _progress(total: int):
    if not sys.stderr.isatty():
        return None  # a bar only helps someone watching
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
    except ImportError:
        return None
    return Progress(
        TextColumn("reading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--show", type=int, default=10, help="errors to list (default 10)")
    ap.add_argument("--repeat", type=int, default=1, help="read everything R times, keep best")
    args = ap.parse_args(argv)

    paths = sorted(p for p in args.dir.rglob("*.ss") if p.is_file())
    nbytes = sum(p.stat().st_size for p in paths)
    # Per file: (path, lines, forms, foreign, errors).  Trees are dropped as
    # soon as they are summarised, so the figures measure reading, not the
    # garbage collector walking 800 retained trees.
    summary: list[tuple[Path, int, int, bool, list[ReadError]]] = []
    best = best_cpu = float("inf")
    for _ in range(max(1, args.repeat)):
        summary = []
        elapsed = 0.0
        cpu0 = time.process_time()
        progress = _progress(len(paths))
        task = progress.add_task("read", total=len(paths)) if progress else None
        if progress:
            progress.start()
        try:
            for p in paths:
                t0 = time.perf_counter()
                r = read_file(p)
                elapsed += time.perf_counter() - t0
                summary.append((p, r.lines.line_count, len(r.forms), r.foreign, r.errors))
                if progress:
                    progress.advance(task)
        finally:
            if progress:
                progress.stop()
        best = min(best, elapsed)
        best_cpu = min(best_cpu, time.process_time() - cpu0)

    lines = sum(s[1] for s in summary)
    bad = [(p, errs) for p, _, _, _, errs in summary if errs]
    foreign = [s[0] for s in summary if s[3]]
    mb = nbytes / 1e6
    print(f"files     {len(paths)}")
    print(f"lines     {lines}")
    print(f"MB        {mb:.2f}")
    print(f"seconds   {best:.3f}  (wall, reading only, best of {max(1, args.repeat)})")
    print(f"cpu       {best_cpu:.3f}  (process CPU seconds for the same loop)")
    print(f"files/s   {len(paths) / best:.0f}" if best else "files/s   -")
    print(f"MB/s      {mb / best:.2f}" if best else "MB/s      -")
    if lines:
        print(
            f"5k lines  {best / lines * 5000 * 1000:.1f} ms  (average reading time per 5,000 lines)"
        )
    print(f"forms     {sum(s[2] for s in summary)}")
    print(f"foreign   {len(foreign)}  (#lang bodies not in s-expression syntax)")
    print(f"errors    {len(bad)} files with errors")
    shown = 0
    for p, errs in bad:
        for e in errs:
            if shown >= args.show:
                break
            s = e.span.start
            print(f"  {p}:{s.line + 1}:{s.character + 1}: [{e.code}] {e.message}")
            shown += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
