"""``gerbil-lsp index build|lookup|drift``: a typer sub-app the main CLI mounts."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

index_app = typer.Typer(help="Build and query the Gerbil symbol index.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _settings():
    try:
        from gerbil_lsp.core.settings import load_settings

        return load_settings().settings.index
    except Exception:  # noqa: BLE001 - settings trouble must not block an explicit build
        return None


def _load(path: Path | None):
    from .build import load_index
    from .store import IndexLoadError

    try:
        s = _settings()
        return load_index(path or (s.path if s is not None and s.path else None))
    except IndexLoadError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(1) from None


@index_app.command("build")
def build(
    docs: Path | None = typer.Option(None, help="Gerbil docs folder (doc/ or doc/reference/)"),
    gerbil_src: Path | None = typer.Option(None, "--gerbil-src", help="Gerbil source tree (its src/)"),
    project: list[Path] = typer.Option([], "--project", "-p", help="your Gerbil project (repeatable)"),
    out: Path | None = typer.Option(None, help="where to write the index (default: the data dir)"),
    bundle: bool = typer.Option(False, help="regenerate the bundled default index (docs only)"),
) -> None:
    """Build the symbol index from docs and/or a Gerbil source tree and your projects."""
    from .build import DEFAULT_DOCS, build_bundle, build_index, user_index_path

    s = _settings()
    if bundle:
        path = build_bundle(docs or DEFAULT_DOCS, out)
        console.print(f"wrote bundled index {path}")
        return
    if s is not None:
        docs = docs or (Path(s.docs) if s.docs else None)
        gerbil_src = gerbil_src or (Path(s.gerbil_src) if s.gerbil_src else None)
        project = project or [Path(p) for p in s.projects]
    if docs is None and gerbil_src is None and not project:
        err.print("[bold red]error:[/] nothing to index: give --docs, --gerbil-src or --project "
                  "(or set index.docs / index.gerbil_src in the config)", highlight=False)
        raise typer.Exit(2)
    for p in [docs, gerbil_src, *project]:
        if p is not None and not Path(p).is_dir():
            err.print(f"[bold red]error:[/] not a folder: {p}", highlight=False)
            raise typer.Exit(2)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase == "done":
                return
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{phase:8}", total=total or None)
            bar.update(tasks[phase], completed=done, total=total or None)

        index = build_index(docs, gerbil_src, project, progress=progress)
    target = out or user_index_path()
    index.save(target)
    st = index.stats()
    console.print(f"wrote {target}")
    console.print(
        f"  {st['symbols']} symbols, {st['documented']} documented, {st['modules']} modules "
        f"({st['std_modules_with_exports']} :std with exports), prelude {st['prelude']} "
        f"({'complete' if index.prelude_complete() else 'docs only'}), drift {st['drift']}, "
        f"{index.build_seconds.get('total', 0):.1f}s"
    )


@index_app.command("lookup")
def lookup(
    name: str = typer.Argument(..., help="a Gerbil name, e.g. hash-get"),
    index_path: Path | None = typer.Option(None, "--index", help="index file to use"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Show every module that provides NAME, with signature, arity and doc link."""
    idx = _load(index_path)
    rows = idx.lookup(name)
    if as_json:
        console.print_json(json.dumps([s.to_json() for s in rows]))
        return
    if not rows:
        console.print(f"[yellow]{name}[/]: not in the index")
        raise typer.Exit(1)
    for s in rows:
        t = Table(show_header=False, box=None, pad_edge=False)
        t.add_column(style="cyan")
        t.add_column()
        t.add_row("module", s.module or "(prelude: no import needed)")
        t.add_row("kind", s.kind + ("" if s.exported else "  [red](documented, not exported)[/]"))
        if s.signatures:
            t.add_row("usage", "\n".join(s.signatures))
        t.add_row("arity", "unknown" if s.arity is None else str(s.arity))
        if s.returns:
            t.add_row("returns", s.returns)
        if s.summary:
            t.add_row("summary", s.summary)
        if s.doc_url:
            t.add_row("docs", s.doc_url)
        if s.source_path:
            t.add_row("source", f"{s.source_path}:{(s.source_line or 0) + 1}")
        console.print(f"[bold]{s.name}[/]")
        console.print(t)


@index_app.command("drift")
def drift(
    index_path: Path | None = typer.Option(None, "--index", help="index file to use"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List names the docs document but the source tree does not export."""
    idx = _load(index_path)
    if not idx.has_source:
        err.print("this index has no source tree behind it: build one with "
                  "`gerbil-lsp index build --gerbil-src DIR` to see drift")
        raise typer.Exit(1)
    entries = idx.drift()
    if as_json:
        console.print_json(json.dumps([d.to_json() for d in entries]))
        return
    t = Table(title=f"{len(entries)} documented names not exported where the docs say")
    for col in ("module", "name", "why", "maybe"):
        t.add_column(col)
    for d in entries:
        maybe = ", ".join(d.suggestions)
        if d.in_prelude:
            maybe = "(now in the prelude)" + (f"; {maybe}" if maybe else "")
        elif d.exported_by:
            maybe = (maybe + "; " if maybe else "") + "exported by " + ", ".join(d.exported_by[:3])
        t.add_row(d.module or "(prelude)", d.name, d.reason, maybe)
    console.print(t)
