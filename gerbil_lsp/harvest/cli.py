"""`gerbil-lsp harvest ...`, `gerbil-lsp opencode install` and `gerbil-lsp retrain`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from gerbil_lsp.core.settings import SettingsError

harvest_app = typer.Typer(help="What gerbil-lsp learned from your work (opt-in): list, show, drop, export, watch.",
                          no_args_is_help=True)
opencode_app = typer.Typer(help="Use gerbil-lsp from OpenCode: provider, LSP and harvest plugin.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@opencode_app.callback()
def _opencode() -> None:
    """Use gerbil-lsp from OpenCode: provider, LSP and harvest plugin."""


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


def _store():
    from gerbil_lsp.harvest.store import HarvestStore, StoreError

    try:
        return HarvestStore()
    except StoreError as exc:
        raise _fail(str(exc)) from None


@harvest_app.command("list")
def list_entries(
    status: str = typer.Option(None, "--status", help="pending, used or rejected"),
    kind: str = typer.Option(None, "--kind", help="fim or chat"),
    limit: int = typer.Option(50, "--limit", "-n", help="show at most this many (newest)"),
) -> None:
    """List harvested entries, newest last."""
    with _store() as store:
        rows = store.entries(status=status, kind=kind)
        counts = store.counts()
    table = Table(title=f"harvested entries ({counts['pending']} pending, {counts['used']} used, "
                        f"{counts['rejected']} rejected)")
    for column in ("id", "kind", "status", "from", "when", "file / session", "what"):
        table.add_column(column, overflow="fold")
    for entry in rows[-limit:]:
        where = entry.file or entry.session_id or ""
        table.add_row(str(entry.id), entry.kind, entry.status, entry.source,
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created)),
                      where[-50:], entry.summary())
    console.print(table)
    if not rows:
        console.print("nothing harvested yet: enable it with `gerbil-lsp config set harvest.enabled true` "
                      "and run `gerbil-lsp harvest watch`", style="dim")


@harvest_app.command("show")
def show(entry_id: int = typer.Argument(..., help="entry id from `harvest list`")) -> None:
    """Print one entry in full."""
    with _store() as store:
        entry = store.get(entry_id)
    if entry is None:
        raise _fail(f"no harvested entry {entry_id}; `gerbil-lsp harvest list` shows the ids")
    console.print(f"[bold]#{entry.id}[/] {entry.kind} · {entry.status}{' (' + entry.reason + ')' if entry.reason else ''}"
                  f" · from {entry.source} · {entry.file or entry.session_id or ''}")
    if entry.kind == "fim":
        fim = entry.payload["fim"]
        console.print("[dim]prefix (last lines):[/]")
        console.print(Syntax("\n".join(fim["prefix"].splitlines()[-8:]), "scheme"))
        console.print("[bold green]middle:[/]")
        console.print(Syntax(fim["middle"], "scheme"))
        console.print("[dim]suffix (first lines):[/]")
        console.print(Syntax("\n".join(fim["suffix"].splitlines()[:8]), "scheme"))
    else:
        for message in entry.payload.get("messages", []):
            console.print(f"[bold cyan]{message['role']}:[/]")
            console.print(message["content"], markup=False, highlight=False)


@harvest_app.command("drop")
def drop(entry_id: int = typer.Argument(..., help="entry id from `harvest list`")) -> None:
    """Delete an entry for good: it will never be trained on."""
    with _store() as store:
        if not store.drop(entry_id):
            raise _fail(f"no harvested entry {entry_id}")
    console.print(f"dropped entry {entry_id}")


@harvest_app.command("export")
def export(
    output: Path = typer.Option(..., "-o", "--output", help="JSONL file to write (one entry record a line)"),
    status: str = typer.Option(None, "--status", help="only pending, used or rejected"),
) -> None:
    """Write entries as JSONL (the data part's entry records), atomically."""
    from gerbil_lsp.core.atomic import atomic_writer

    with _store() as store:
        rows = store.entries(status=status)
    with atomic_writer(output) as fh:
        for entry in rows:
            fh.write(json.dumps({**entry.payload, "harvest": {
                "id": entry.id, "status": entry.status, "source": entry.source, "file": entry.file,
                "session_id": entry.session_id, "created": entry.created}}, ensure_ascii=False) + "\n")
    console.print(f"wrote {len(rows)} entries to {output}")


@harvest_app.command("watch")
def watch(
    workspace: list[Path] = typer.Option(None, "--workspace", "-w",
                                         help="also watch this folder (its settings must enable harvesting)"),
    opencode_dir: Path = typer.Option(None, "--opencode-dir", help="OpenCode's data dir (default: ~/.local/share/opencode)"),
    no_retrain: bool = typer.Option(False, "--no-retrain", help="never start a retrain"),
    poll: float = typer.Option(5.0, "--poll", help="seconds between looks at OpenCode's storage"),
) -> None:
    """Run the harvester: watch saves, read OpenCode sessions, start retrains (until Ctrl-C)."""
    from gerbil_lsp.harvest.daemon import HarvestDaemon, socket_path

    try:
        daemon = HarvestDaemon(workspaces=[str(w) for w in workspace or []], opencode_dir=opencode_dir,
                               poll_s=poll, retrain=not no_retrain)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    roots = daemon.policy.enabled_roots()
    if not roots:
        off = [f"{p.root} ({p.why})" for p in daemon.policy.workspaces]
        raise _fail("no workspace is opted in to harvesting. Set `harvest.enabled = true` and list folders in "
                    "`harvest.workspaces` (or pass --workspace)" + (": " + "; ".join(off) if off else ""))
    err.print(f"harvesting {', '.join(map(str, roots))}; plugin socket {socket_path()}", style="dim")
    try:
        daemon.run_forever()
    except RuntimeError as exc:
        raise _fail(str(exc)) from None


@harvest_app.command("status")
def status() -> None:
    """Counts, the daemon, and the last retrain."""
    from gerbil_lsp.core.settings import load_settings
    from gerbil_lsp.harvest.daemon import daemon_status
    from gerbil_lsp.harvest.retrain_trigger import read_status

    settings = load_settings().settings.harvest
    with _store() as store:
        counts = store.counts()
    table = Table(show_header=False, title="harvest")
    table.add_row("enabled", str(settings.enabled))
    table.add_row("entries", f"{counts['pending']} pending / {settings.retrain_threshold} to retrain, "
                             f"{counts['used']} used, {counts['rejected']} rejected")
    daemon = daemon_status()
    table.add_row("daemon", f"running (pid {daemon['pid']})" if daemon else "not running")
    retrain = read_status()
    table.add_row("last retrain", f"{retrain['state']}: {retrain.get('message', '')}" if retrain else "never")
    console.print(table)


@opencode_app.command("install")
def opencode_install(
    global_: bool = typer.Option(False, "--global", help="the user's ~/.config/opencode config (default)"),
    project: bool = typer.Option(False, "--project", help="this folder's opencode.json(c)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the diff, change nothing"),
    base_url: str = typer.Option(None, "--base-url", help="the served model's OpenAI-compatible /v1 URL; default from settings"),
    model: str = typer.Option(None, "--model", help="model name at that endpoint; default from settings"),
    api_key_env: str = typer.Option(None, "--api-key-env", help="environment variable OpenCode reads the key from"),
    no_plugin: bool = typer.Option(False, "--no-plugin", help="leave the harvest plugin out"),
    no_default_model: bool = typer.Option(False, "--no-default-model", help="do not make it OpenCode's default model"),
) -> None:
    """Merge gerbil-lsp (provider, default model, LSP, plugin) into opencode.json(c), keeping everything else."""
    from gerbil_lsp.core import secrets
    from gerbil_lsp.core.settings import load_settings
    from gerbil_lsp.harvest import opencode_config as oc
    from gerbil_lsp.harvest.daemon import socket_path

    if global_ and project:
        raise _fail("choose --global or --project, not both")
    settings = load_settings().settings.model
    base_url = base_url or _default_base_url(settings)
    model = model or settings.model
    if not base_url or not model:
        raise _fail("no served model configured: pass --base-url and --model, or set model.base_url and model.model "
                    "(see `gerbil-lsp deploy`)")
    if api_key_env is None and settings.api_key_name:
        api_key_env = secrets.env_var_for(settings.api_key_name)
    folder = Path.cwd() if project else oc.global_config_dir()
    plugin_spec = None
    if not no_plugin:
        try:
            source = oc.plugin_source()
        except FileNotFoundError as exc:
            raise _fail(str(exc)) from None
        target = oc.installed_plugin_path()
        if not dry_run:
            oc.install_plugin_file(source)
        plugin_spec = target.as_uri()
    install = oc.OpenCodeInstall(base_url=base_url, model=model, api_key_env=api_key_env, plugin_spec=plugin_spec,
                                 socket=str(socket_path()) if plugin_spec else None,
                                 set_default_model=not no_default_model)
    try:
        result = oc.install_config(folder, install, dry_run=dry_run)
    except oc.ConfigEditError as exc:
        raise _fail(str(exc)) from None
    if not result.changed:
        console.print(f"{result.path} already has gerbil-lsp; nothing to change")
        return
    if dry_run:
        console.print(Syntax(result.diff, "diff"))
        console.print("(dry run: nothing written)", style="dim")
        return
    for note in result.notes:
        console.print(f"• {note}")
    console.print(f"wrote {result.path}" + (f" (backup: {result.backup})" if result.backup else ""))
    console.print("Its agent can also ask the server for definitions, references and callers (OpenCode's lsp "
                  "tool): start OpenCode with OPENCODE_EXPERIMENTAL_LSP_TOOL=true", style="dim")


def _default_base_url(model_settings) -> str:
    url = model_settings.base_url.rstrip("/")
    if model_settings.backend == "ollama" and url:
        return url + "/v1"
    return url


def retrain(
    backend: str = typer.Option(None, "--backend", help="local or together; default: settings train.backend"),
    force: bool = typer.Option(False, "--force", help="retrain even below the threshold"),
    dry_run: bool = typer.Option(False, "--dry-run", help="say what a retrain would use and do, change nothing"),
) -> None:
    """Rebuild the dataset with harvested entries, train a candidate, promote it only if the eval gate agrees."""
    from gerbil_lsp.harvest.retrain import RetrainError, run_retrain

    try:
        report = run_retrain(backend=backend, force=force, dry_run=dry_run, console=console)
    except (RetrainError, SettingsError) as exc:
        raise _fail(str(exc)) from None
    console.print(report.summary())
