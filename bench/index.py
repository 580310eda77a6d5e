"""Benchmark the symbol index: build time, entry counts, drift, load time.

Usage: python bench/index.py [--docs DIR] [--gerbil-src DIR] [--repeat R] [--drift N]

Builds an index from the reference docs (default: the shared Gerbil docs) and,
with ``--gerbil-src``, a Gerbil source tree (e.g. /work/scratch/gerbil/src);
saves it to a temp file and loads it back.  Prints build seconds, documented
entries, modules with exports, ``:std`` modules with exports, prelude size,
drift count with a few examples, file size and load seconds (best of R), and
the same for the bundled default index.  Targets: >= 2,000 documented entries,
>= 370 ``:std`` modules with exports (with the source), build <= 10 s, load <= 0.3 s.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gerbil_lsp.core.index import SymbolIndex, build_index, bundled_index_path  # noqa: E402
from gerbil_lsp.core.index.build import DEFAULT_DOCS  # noqa: E402


def _best_load(path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        SymbolIndex.load(path)
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    ap.add_argument("--gerbil-src", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="load repetitions (best is shown)")
    ap.add_argument("--drift", type=int, default=5, help="drift examples to show")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    index = build_index(args.docs if args.docs.is_dir() else None, args.gerbil_src)
    build_s = time.perf_counter() - t
    st = index.stats()
    drift = index.drift()
    prelude_complete = index.prelude_complete()
    docs_s = index.build_seconds.get("docs", 0)
    hg = next((s for s in index.lookup("hash-get") if s.module is None), None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.json.gz"
        t = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t
        size = path.stat().st_size
        del index  # load into a heap like a fresh server's, not one holding the build
        gc.collect()
        load_s = _best_load(path, args.repeat)
    print(f"inputs            docs={args.docs} gerbil-src={args.gerbil_src or '-'}")
    print(f"build             {build_s:.2f} s (docs {docs_s:.2f} s)"
          f"   target <= 10 s")
    print(f"symbols           {st['symbols']}")
    print(f"documented        {st['documented']}   target >= 2000")
    print(f"modules           {st['modules']} ({st['modules_with_exports']} with exports)")
    print(f":std w/ exports   {st['std_modules_with_exports']}"
          + ("   target >= 370" if args.gerbil_src else "   (docs only)"))
    print(f"prelude           {st['prelude']} "
          f"({'complete, from source' if prelude_complete else 'docs only'})")
    print(f"drift             {len(drift)}" + ("" if args.gerbil_src else "   (needs --gerbil-src)"))
    for d in drift[: args.drift]:
        hint = ", ".join(d.suggestions[:2]) or ("now in the prelude" if d.in_prelude else
                                               ("exported by " + d.exported_by[0]
                                                if d.exported_by else ""))
        print(f"  {d.module or '(prelude)'} {d.name}" + (f"  -> {hint}" if hint else ""))
    print(f"file              {size / 1024:.0f} KiB (saved in {save_s:.2f} s)")
    print(f"load              {load_s:.3f} s best of {args.repeat}   target <= 0.3 s")
    bundled = bundled_index_path()
    if bundled.is_file():
        print(f"bundled load      {_best_load(bundled, args.repeat):.3f} s "
              f"({bundled.stat().st_size / 1024:.0f} KiB)")
    if hg is not None:
        print(f"hash-get          arity {hg.arity} returns {hg.returns!r}; {hg.summary}; {hg.doc_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
