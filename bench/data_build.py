"""Data build benchmark over the shared corpus (plus a Gerbil source tree when given).

    python bench/data_build.py [--corpus ../shared/corpus] [--gerbil-src DIR] [--serial]

Prints entries per source and kind, dropped per reason, and seconds (target: >= 6,000
validated entries in <= 20 s on a 2-core machine), per stage too. Some work runs in a
second process where that is possible (see gerbil_lsp.data.ahead); ``--serial`` keeps it
all in one (the output is the same either way).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console

from gerbil_lsp.data import build_dataset

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    parser.add_argument("--gerbil-src", type=Path)
    parser.add_argument("--serial", action="store_true", help="no second process")
    args = parser.parse_args()
    from gerbil_lsp.data import ahead

    if args.serial:
        os.environ[ahead.PARALLEL_ENV] = "0"
    with tempfile.TemporaryDirectory() as out:
        result = build_dataset(docs=args.corpus / "gerbil" / "doc", cookbooks=[args.corpus / "gerbil-mcp"],
                               gerbil_src=args.gerbil_src, output=Path(out) / "ds")
    kinds = Counter((e.provenance.source if hasattr(e, "provenance") else getattr(e, "source", "?"), e.kind)
                    for e in result.entries)
    console.print(f"[bold]{len(result.entries)} validated entries in {result.seconds:.1f} s[/] "
                  f"(target >= 6,000 in <= 20 s)")
    for (source, kind), count in sorted(kinds.items()):
        console.print(f"  {source:24} {kind:6} {count}")
    drops = Counter(d.get("reason", "?") for d in result.drops)
    console.print(f"dropped: {sum(drops.values())}")
    for reason, count in drops.most_common():
        console.print(f"  {reason:40} {count}")
    console.print("stages: " + json.dumps({k: round(v, 2) for k, v in result.stage_seconds.items()}))
    console.print(f"second process: {'yes' if ahead._can_fork() else 'no'} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
