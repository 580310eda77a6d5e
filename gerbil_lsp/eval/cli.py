"""`gerbil-lsp eval run | show | suite`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.console import Console

from gerbil_lsp.core import paths
from gerbil_lsp.eval import report
from gerbil_lsp.eval.runner import load_run, run_eval
from gerbil_lsp.eval.suite import load_fim_tasks, load_suite

eval_app = typer.Typer(help="Score model endpoints on Gerbil questions with known answers.", no_args_is_help=True)
console = Console()


@eval_app.command("run")
def run(
    model: list[str] = typer.Option(..., "--model", "-m", help="backend spec: ollama:NAME, openai:URL#MODEL, together:MODEL, gguf:PATH[+ADAPTER], hf:DIR"),
    split: str = typer.Option("heldout", help="heldout, train or all"),
    concurrency: int = typer.Option(4, min=1),
    retries: int = typer.Option(2, min=0),
    max_tokens: int = typer.Option(768, min=16),
    fail_below: float = typer.Option(None, help="exit 1 if the first model's total is below this (0..1)"),
    output: Path = typer.Option(None, "-o", help="folder for the markdown/JSON/PNG report (default: the runs dir)"),
) -> None:
    """Ask every model the suite's questions and compare them side by side."""
    result = run_eval(model, split, concurrency=concurrency, retries=retries, max_tokens=max_tokens)
    result.save()
    _show(result, output)
    if fail_below is not None and result.total(model[0]) < fail_below:
        console.print(f"[red]{model[0]} scored {result.total(model[0]):.3f} < {fail_below}[/]")
        raise typer.Exit(1)


@eval_app.command("show")
def show(run_ref: str = typer.Argument(..., help="run id or path of a saved run"),
         output: Path = typer.Option(None, "-o")) -> None:
    """Re-render a past run."""
    try:
        _show(load_run(run_ref), output)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@eval_app.command("suite")
def suite() -> None:
    """Count the questions per split and tag."""
    questions = load_suite()
    splits = Counter(q.split for q in questions)
    tags = Counter(tag for q in questions for tag in q.tags)
    console.print(f"{len(questions)} questions ({dict(splits)}), {len(load_fim_tasks())} FIM tasks")
    for tag, count in sorted(tags.items()):
        console.print(f"  {tag:14} {count}")


def _show(result, output: Path | None) -> None:
    console.print(report.rich_table(result))
    files = report.write_reports(result, output or paths.runs_dir() / "eval")
    for errors in result.errors.values():
        for qid, message in list(errors.items())[:3]:
            console.print(f"[yellow]{qid}: {message}[/]")
    console.print("reports: " + ", ".join(str(p) for p in files.values()))
