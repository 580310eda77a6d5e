"""`gerbil-lsp data ...`: build, validate, stats, show."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

data_app = typer.Typer(help="Build and inspect training data (docs, cookbooks, source -> checked datasets).",
                       no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _settings():
    from gerbil_lsp.core.settings import SettingsError, load_settings

    try:
        return load_settings().settings.data
    except SettingsError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None


@data_app.command("build")
def build(
    docs: Path = typer.Option(None, "--docs", help="Gerbil doc/ folder (markdown); default: settings data.docs"),
    cookbook: list[Path] = typer.Option(None, "--cookbook", help="cookbooks.json or a gerbil-mcp folder (repeatable)"),
    gerbil_src: Path = typer.Option(None, "--gerbil-src", help="a Gerbil source tree (its src/)"),
    project: list[Path] = typer.Option(None, "--project", help="your own Gerbil project (repeatable)"),
    output: Path = typer.Option(None, "-o", "--output", help="output folder; replaced atomically"),
    fmt: list[str] = typer.Option(None, "--format", help="all, sharegpt, messages, alpaca, alpaca-json, fim"),
    seed: int = typer.Option(None, "--seed", help="seed for holes and the held-out split"),
    tokenizer: Path = typer.Option(None, "--tokenizer", help="the base model's tokenizer.json for token counts"),
) -> None:
    """Build every dataset format from the sources, with checks, dedupe and a report."""
    from gerbil_lsp.data.build import build_dataset

    s = _settings()
    docs = docs or (Path(s.docs) if s.docs else None)
    cookbooks = list(cookbook or [Path(c) for c in s.cookbooks])
    gerbil_src = gerbil_src or (Path(s.gerbil_src) if s.gerbil_src else None)
    projects = list(project or [Path(p) for p in s.projects])
    output = output or Path(s.output)
    seed = s.seed if seed is None else seed
    tokenizer = tokenizer or (Path(s.tokenizer) if s.tokenizer else None)
    if not (docs or cookbooks or gerbil_src or projects):
        err.print("[bold red]error:[/] no sources: give --docs, --cookbook, --gerbil-src or --project "
                  "(or set data.docs / data.cookbooks with `gerbil-lsp config set`)")
        raise typer.Exit(2)
    warnings: list = []
    with Progress(TextColumn("{task.description:<18}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            key = stage.split()[0]
            if key not in tasks:
                tasks[key] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[key], completed=done, total=max(total, 1), description=stage)

        try:
            result = build_dataset(docs=docs, cookbooks=cookbooks, gerbil_src=gerbil_src, projects=projects,
                                   output=output, formats=fmt or ["all"], seed=seed,
                                   heldout_fraction=s.heldout_fraction, tokenizer=tokenizer,
                                   warn=warnings.append, progress=progress)
        except (FileNotFoundError, ValueError) as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
    for w in warnings[:20]:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    if len(warnings) > 20:
        err.print(f"[yellow]... and {len(warnings) - 20} more warnings[/]")
    _print_stats(result.stats)
    console.print(f"wrote {result.output} in {result.seconds:.1f} s (report: {result.output / 'report.md'})")


def _print_stats(stats: dict) -> None:
    table = Table(title=f"{stats['entries']} entries")
    table.add_column("source")
    table.add_column("chat", justify="right")
    table.add_column("fim", justify="right")
    for source, kinds in stats["by_source"].items():
        table.add_row(source, str(kinds.get("chat", 0)), str(kinds.get("fim", 0)))
    console.print(table)
    if stats["dropped"]:
        dropped = Table(title=f"{stats['dropped_total']} dropped")
        dropped.add_column("reason")
        dropped.add_column("count", justify="right")
        for reason, count in stats["dropped"].items():
            dropped.add_row(reason, str(count))
        console.print(dropped)
    ls = stats["lengths"]
    if ls.get("count"):
        console.print(f"lengths ({ls['method']}): median {ls['p50']}, p90 {ls['p90']}, max {ls['max']}")


@data_app.command("validate")
def validate(file: Path = typer.Argument(..., help="a dataset file (.jsonl, or an Alpaca .json array)")) -> None:
    """Check a dataset file; print every bad line by number. Exit 1 if any."""
    from gerbil_lsp.data.validate import validate_file

    report = validate_file(file)
    for number, problem in report.problems:
        err.print(f"{file}:{number}: {problem}", highlight=False, markup=False)
    console.print(report.summary(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@data_app.command("stats")
def stats(directory: Path = typer.Argument(..., help="a built dataset folder")) -> None:
    """Print a built dataset's counts, drops and lengths."""
    from gerbil_lsp.data.stats import load_stats

    try:
        _print_stats(load_stats(directory))
    except (OSError, json.JSONDecodeError) as exc:
        err.print(f"[bold red]error:[/] no readable stats.json in {directory} ({exc}); run `gerbil-lsp data build`")
        raise typer.Exit(1) from None


@data_app.command("show")
def show(
    entry_id: str = typer.Argument(..., help="an entry id (or a unique prefix of one)"),
    directory: Path = typer.Option(None, "--dir", help="dataset folder (default: settings data.output)"),
) -> None:
    """Print one entry with its provenance."""
    directory = directory or Path(_settings().output)
    path = directory / "entries.jsonl"
    if not path.is_file():
        err.print(f"[bold red]error:[/] {path} not found; run `gerbil-lsp data build` or pass --dir")
        raise typer.Exit(1)
    matches = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(f'{{"id": "{entry_id}') or json.loads(line)["id"].startswith(entry_id):
                matches.append(json.loads(line))
    if not matches:
        err.print(f"[bold red]error:[/] no entry {entry_id} in {path}")
        raise typer.Exit(1)
    if len(matches) > 1:
        err.print(f"[bold red]error:[/] {len(matches)} entries start with {entry_id}; give more of the id")
        raise typer.Exit(1)
    record = matches[0]
    prov = record["provenance"]
    console.print(f"[bold]{record['id']}[/] {record['kind']} ({record['split']}) from {prov['source']} "
                  f"{prov['file']}:{prov['line']}" + (f" gerbil {prov['gerbil_version']}" if prov["gerbil_version"] else ""))
    for m in record.get("messages", []):
        console.rule(m["role"])
        console.print(m["content"], markup=False, highlight=False)
    if "fim" in record:
        f = record["fim"]
        for part in ("prefix", "middle", "suffix"):
            console.rule(part)
            console.print(f[part], markup=False, highlight=False)
