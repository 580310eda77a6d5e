"""Formatting benchmark: how closely the indentation matches a real Gerbil tree's, and how long it takes.

    python bench/formatting.py --tree DIR [--out DIR]

Gerbil's own sources are indented by hand and by Emacs, so they are the
reference layout. Two figures:

* per line: the indentation the formatter gives each line from the lines above
  it *as they are* (what a newline or a re-indent of one line gives), against
  the line's own; a disagreement is counted once, where it is;
* per file: the files that formatting leaves as they are, and the lines it changes
  (a disagreement moves the lines nested under it too).

The heads of the forms behind the most per-line disagreements are listed (a
macro whose indentation the table does not know, or a hand-made layout), and
plotted to ``OUT/formatting.png``. Then the time to format the 5,000-line file of
bench/lsp_diagnostics.py, and to indent one new line at its end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lsp_diagnostics import SAMPLE_FORM  # noqa: E402
from gerbil_lsp.core.indent import Indenter, indent_line, reindent  # noqa: E402
from gerbil_lsp.core.index import default_index  # noqa: E402
from gerbil_lsp.core.reader import SYMBOL, read_source  # noqa: E402
from gerbil_lsp.server.analysis import analyze  # noqa: E402
from gerbil_lsp.server.features.formatting import known_bodies  # noqa: E402

console = Console()


class _AsWritten(dict):
    """An Indenter's record of new indentation that records nothing: each line is computed from the text as it is."""

    def __setitem__(self, key, value) -> None:
        pass


def head_of(container) -> str:
    if container is None:
        return "(top level)"
    if not container.children:
        return "()"
    head = container.children[0]
    return head.value if head.kind is SYMBOL else f"<{head.kind.value}>"


def agreement(tree: Path) -> dict:
    files = [p for p in sorted(tree.rglob("*.ss"))
             if "bootstrap" not in p.relative_to(tree).parts and not p.name.endswith(".ssxi.ss")]
    lines = per_line = per_file_lines = unchanged_files = skipped = 0
    heads: Counter = Counter()
    examples: dict[str, str] = {}
    index = default_index()
    for path in track(files, description="indenting", console=console):
        # as the server does: the file's macros and the docs' signatures say where bodies start
        analysis = analyze(path.read_text(encoding="utf-8", errors="replace"), path.as_uri(), index, path=str(path))
        result, known = analysis.result, known_bodies(analysis)
        if result.errors or not result.plain_syntax:
            skipped += 1
            continue
        indenter = Indenter(result, known=known)
        indenter.indent = _AsWritten()
        containers = {line: container for line, _, _, container in indenter._line_containers(None)}
        lines += len(containers)
        for change in indenter.lines_to_change():
            per_line += 1
            head = head_of(containers[change.line])
            heads[head] += 1
            examples.setdefault(head, f"{path.relative_to(tree)}:{change.line + 1} ({change.old} -> {change.new})")
        changes = reindent(result, known=known)
        per_file_lines += len(changes)
        unchanged_files += not changes
    return {"files": len(files) - skipped, "skipped": skipped, "lines": lines, "per_line": per_line,
            "per_file_lines": per_file_lines, "unchanged_files": unchanged_files, "heads": heads,
            "examples": examples}


def timing(runs: int = 20) -> dict:
    text = "(import :std/iter)\n" + "".join(SAMPLE_FORM.format(n=i) for i in range(1000))
    flat = "\n".join(line.lstrip() for line in text.split("\n"))
    result, flattened = read_source(text), read_source(flat)
    whole, flat_times, new_line = [], [], []
    typed = read_source(text + "(def (more x)\n")
    for _ in range(runs):
        start = time.perf_counter()
        reindent(result)
        whole.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        changes = reindent(flattened)
        flat_times.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        indent_line(typed, typed.lines.line_count - 1)
        new_line.append((time.perf_counter() - start) * 1000)
    return {"lines": text.count("\n"), "whole_ms": statistics.median(whole), "flat_ms": statistics.median(flat_times),
            "flat_changes": len(changes), "new_line_ms": statistics.median(new_line)}


def chart(heads: Counter, out: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    top = heads.most_common(15)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.barh([name for name, _ in reversed(top)], [count for _, count in reversed(top)], color="#4a7")
    ax.set_xlabel("lines indented otherwise than in the tree")
    ax.set_title("per-line disagreements, by the head of the form around the line")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "formatting.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, required=True, help="a Gerbil source tree (e.g. gerbil/src)")
    parser.add_argument("--out", type=Path, default=Path("out/bench-formatting"))
    args = parser.parse_args()
    figures = agreement(args.tree)
    lines = figures["lines"]
    console.print(f"{figures['files']} files ({figures['skipped']} that do not read cleanly or have their own "
                  f"#lang syntax left out), {lines} lines with code or comments")
    console.print(f"[bold]per line: {lines - figures['per_line']}/{lines} = "
                  f"{100 * (1 - figures['per_line'] / max(lines, 1)):.2f}%[/] indented as in the tree")
    console.print(f"[bold]per file: {figures['unchanged_files']}/{figures['files']} files unchanged[/]; "
                  f"{figures['per_file_lines']} lines changed = "
                  f"{100 * figures['per_file_lines'] / max(lines, 1):.2f}%")
    table = Table(title="forms behind the most per-line disagreements")
    for column in ("head", "lines", "first one"):
        table.add_column(column)
    for head, count in figures["heads"].most_common(15):
        table.add_row(head, str(count), figures["examples"][head])
    console.print(table)
    plot = chart(figures["heads"], args.out)
    if plot:
        console.print(f"plot: {plot}")
    t = timing()
    console.print(f"{t['lines']}-line file: formatting {t['whole_ms']:.1f} ms (already formatted), "
                  f"{t['flat_ms']:.1f} ms flattened ({t['flat_changes']} lines re-indented); "
                  f"a new line at its end {t['new_line_ms']:.1f} ms (medians; reading the file not included)")


if __name__ == "__main__":
    main()
