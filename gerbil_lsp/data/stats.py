"""Counts and lengths of a built dataset: ``stats.json``, ``report.md`` and a PNG histogram.

Lengths are in tokens of the base model's tokenizer when a ``tokenizer.json``
is given; otherwise an estimate of characters / 3.6, said so in the report
(about what Qwen2.5's BPE gives on Gerbil code and English prose).
"""

from __future__ import annotations

import io
import json
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gerbil_lsp.data.entries import Entry
from gerbil_lsp.data.formats.fim import to_record as fim_record

CHARS_PER_TOKEN = 3.6


class LengthCounter:
    """Token lengths with a real tokenizer, or the stated estimate."""

    def __init__(self, tokenizer_path: str | Path | None = None) -> None:
        self.tokenizer = None
        self.method = f"estimate: characters / {CHARS_PER_TOKEN}"
        if tokenizer_path:
            from tokenizers import Tokenizer

            self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
            self.method = f"tokenizer {Path(tokenizer_path).name}"

    def lengths(self, texts: Sequence[str]) -> list[int]:
        if self.tokenizer is None:
            return [round(len(t) / CHARS_PER_TOKEN) for t in texts]
        return [len(enc.ids) for enc in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def entry_text(entry: Entry) -> str:
    """What the model sees for an entry (roles joined; FIM prompt + completion)."""
    if entry.kind == "fim":
        record = fim_record(entry) or {"prompt": "", "completion": ""}
        return record["prompt"] + record["completion"]
    return "\n".join(f"{m.role}: {m.content}" for m in entry.messages)


def compute_stats(
    entries: Sequence[Entry],
    dropped: Counter,
    *,
    lengths: list[int],
    length_method: str,
    warnings: int,
    secrets: Counter,
    files: dict[str, int],
    seed: int,
    inputs: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    per_source: dict[str, dict[str, int]] = {}
    for e in entries:
        per_source.setdefault(e.provenance.source, Counter())[e.kind] += 1
    splits = Counter(e.split for e in entries)
    kinds = Counter(e.kind for e in entries)
    return {
        "entries": len(entries),
        "by_kind": dict(sorted(kinds.items())),
        "by_split": dict(sorted(splits.items())),
        "by_source": {s: dict(sorted(c.items())) for s, c in sorted(per_source.items())},
        "dropped": dict(sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))),
        "dropped_total": sum(dropped.values()),
        "secrets_scrubbed": dict(sorted(secrets.items())),
        "warnings": warnings,
        "lengths": _length_summary(lengths, length_method),
        "files": dict(sorted(files.items())),
        "seed": seed,
        "inputs": inputs,
        **(extra or {}),
    }


def _length_summary(lengths: list[int], method: str) -> dict[str, Any]:
    if not lengths:
        return {"method": method, "count": 0}
    ordered = sorted(lengths)

    def pct(p: float) -> int:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {
        "method": method,
        "count": len(ordered),
        "total": sum(ordered),
        "mean": round(statistics.fmean(ordered), 1),
        "p50": pct(0.5),
        "p90": pct(0.9),
        "p99": pct(0.99),
        "max": ordered[-1],
    }


def histogram_png(lengths_by_kind: dict[str, list[int]], method: str) -> bytes:
    """A length histogram per kind, as PNG bytes (Agg backend; no timestamp, so builds are byte-identical)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for kind, values in sorted(lengths_by_kind.items()):
        if values:
            ax.hist(values, bins=50, alpha=0.6, label=f"{kind} ({len(values)})")
    ax.set_xlabel(f"length in tokens ({method})")
    ax.set_ylabel("entries")
    ax.set_title("gerbil-lsp dataset: entry lengths")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def report_markdown(stats: dict[str, Any], drop_examples: dict[str, list[str]]) -> str:
    lines = ["# Dataset report", ""]
    lines.append(
        f"{stats['entries']} entries kept ({', '.join(f'{v} {k}' for k, v in stats['by_kind'].items())}; "
        f"{', '.join(f'{v} {k}' for k, v in stats['by_split'].items())}), "
        f"{stats['dropped_total']} dropped, {stats['warnings']} input warnings. Seed {stats['seed']}."
    )
    lines += ["", "## Entries per source", "", "| source | chat | fim |", "|---|---:|---:|"]
    for source, kinds in stats["by_source"].items():
        lines.append(f"| {source} | {kinds.get('chat', 0)} | {kinds.get('fim', 0)} |")
    lines += ["", "## Dropped, and why", ""]
    if stats["dropped"]:
        lines += ["| reason | count | e.g. |", "|---|---:|---|"]
        for reason, count in stats["dropped"].items():
            examples = "; ".join(drop_examples.get(reason, [])[:2]).replace("|", "\\|")
            lines.append(f"| {reason} | {count} | {examples} |")
    else:
        lines.append("nothing was dropped")
    if stats.get("drift_corrected"):
        lines += ["", f"{stats['drift_corrected']} doc-drift names were corrected to the source's names."]
    lines += ["", "## Secrets scrubbed", ""]
    lines.append(
        ", ".join(f"{k}: {v}" for k, v in stats["secrets_scrubbed"].items()) or "none found"
    )
    ls = stats["lengths"]
    lines += ["", "## Lengths", "", f"Counted with {ls['method']}.", ""]
    if ls.get("count"):
        lines.append(
            f"mean {ls['mean']}, median {ls['p50']}, p90 {ls['p90']}, p99 {ls['p99']}, max {ls['max']}; "
            f"{ls['total']} in all."
        )
    lines += ["", "![lengths](lengths.png)", "", "## Files", "", "| file | lines |", "|---|---:|"]
    for name, count in stats["files"].items():
        lines.append(f"| {name} | {count} |")
    return "\n".join(lines) + "\n"


def load_stats(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / "stats.json"
    return json.loads(path.read_text(encoding="utf-8"))
