"""Side by side: a terminal table, markdown, JSON and a PNG chart per tag."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from gerbil_lsp.core.atomic import write_text_atomic
from gerbil_lsp.eval.runner import EvalRun


def _tags(run: EvalRun) -> list[str]:
    return sorted({tag for tags in run.tags.values() for tag in tags})


def rich_table(run: EvalRun) -> Table:
    table = Table(title=f"eval {run.run_id} ({run.split}, {len(run.tags)} questions)")
    table.add_column("tag")
    for model in run.models:
        table.add_column(model, justify="right")
    for tag in _tags(run):
        table.add_row(tag, *(f"{run.by_tag(m).get(tag, 0.0):.2f}" for m in run.models))
    table.add_row("[bold]total[/]", *(f"[bold]{run.total(m):.3f}[/]" for m in run.models))
    table.add_row("hallucinated names", *(str(sum(len(r["hallucinated"]) for r in run.scores.get(m, {}).values()))
                                          for m in run.models))
    return table


def markdown(run: EvalRun) -> str:
    lines = [f"# Eval {run.run_id}", "", f"split: {run.split}; questions: {len(run.tags)}", "",
             "| tag | " + " | ".join(run.models) + " |", "|---|" + "---|" * len(run.models)]
    for tag in _tags(run):
        lines.append(f"| {tag} | " + " | ".join(f"{run.by_tag(m).get(tag, 0.0):.2f}" for m in run.models) + " |")
    lines.append("| **total** | " + " | ".join(f"**{run.total(m):.3f}**" for m in run.models) + " |")
    best = max(run.models, key=run.total)
    lines += ["", f"Best overall: `{best}`."]
    return "\n".join(lines) + "\n"


def chart(run: EvalRun, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tags = _tags(run)
    width = 0.8 / max(len(run.models), 1)
    fig, ax = plt.subplots(figsize=(max(6, len(tags) * 0.9), 4))
    for i, model in enumerate(run.models):
        scores = run.by_tag(model)
        ax.bar([t + i * width for t in range(len(tags))], [scores.get(tag, 0.0) for tag in tags], width, label=model)
    ax.set_xticks([t + width * (len(run.models) - 1) / 2 for t in range(len(tags))], tags, rotation=45, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.set_title(f"Gerbil eval by tag ({run.split})")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_reports(run: EvalRun, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / f"{run.run_id}.md"
    js = directory / f"{run.run_id}.json"
    write_text_atomic(md, markdown(run))
    write_text_atomic(js, json.dumps(asdict(run), indent=1, sort_keys=True))
    return {"markdown": md, "json": js, "png": chart(run, directory / f"{run.run_id}.png")}
