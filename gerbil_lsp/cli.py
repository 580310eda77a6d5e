"""The `gerbil-lsp` command: parses and prints; the work lives in the parts.

Each part contributes its own typer sub-app or command functions; this file
only mounts them, so a reader sees the whole command surface in one place.
"""

from __future__ import annotations

import getpass
import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gerbil_lsp import __version__
from gerbil_lsp.core import paths, secrets
from gerbil_lsp.core.settings import (
    PROJECT_FILE,
    SettingsError,
    find_project_file,
    known_keys,
    load_settings,
    set_value,
)

app = typer.Typer(
    name="gerbil-lsp",
    help="Gerbil Scheme language server and a model that learns Gerbil from your work.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error the user can act on and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="log debug details to stderr")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    secrets.install_log_redaction()


@app.command()
def version() -> None:
    """Print the gerbil-lsp version."""
    console.print(f"gerbil-lsp {__version__}")


# --------------------------------------------------------------------------- config

config_app = typer.Typer(help="Show and edit settings (user config.toml, project .gerbil-lsp.toml).", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(
    workspace: Path = typer.Option(None, "--workspace", "-w", help="workspace whose .gerbil-lsp.toml applies (default: cwd)"),
    key: str = typer.Argument(None, help="only this key or section, e.g. model or model.backend"),
) -> None:
    """Print the effective settings and where each value comes from."""
    try:
        loaded = load_settings(workspace)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    table = Table(title="gerbil-lsp settings", show_lines=False)
    table.add_column("key", style="cyan")
    table.add_column("value")
    table.add_column("from", style="dim")
    effective = loaded.settings.model_dump()
    for dotted in known_keys():
        if key and not (dotted == key or dotted.startswith(key + ".")):
            continue
        section, name = dotted.split(".", 1)
        value = effective[section][name]
        table.add_row(dotted, repr(value) if isinstance(value, str) else str(value), loaded.origin(dotted))
    console.print(table)
    console.print(f"user file: {paths.user_config_file()}", style="dim")
    project = find_project_file(workspace or Path.cwd())
    console.print(f"project file: {project or '(none: ' + PROJECT_FILE + ' not found upward)'}", style="dim")


@config_app.command("set")
def config_set(
    key: str = typer.Argument(..., help="dotted key, e.g. model.backend"),
    value: str = typer.Argument(..., help="TOML value (strings may be bare): ollama, 0.2, true, ['a','b']"),
    project: bool = typer.Option(False, "--project", help=f"write the project's {PROJECT_FILE} instead of the user file"),
) -> None:
    """Set one key, keeping the file's comments and layout."""
    if project:
        target = find_project_file(Path.cwd()) or Path.cwd() / PROJECT_FILE
    else:
        target = paths.user_config_file()
    try:
        stored = set_value(target, key, value)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    console.print(f"{key} = {stored!r}  [dim]({target})[/]")


@config_app.command("path")
def config_path() -> None:
    """Print where gerbil-lsp reads and writes."""
    for label, where in (
        ("user config", paths.user_config_file()),
        ("data", paths.data_dir()),
        ("cache", paths.cache_dir()),
        ("state", paths.state_dir()),
        ("logs", paths.log_dir()),
    ):
        console.print(f"{label:12} {where}")


# --------------------------------------------------------------------------- login


@app.command()
def login(
    provider: str = typer.Argument(..., help="together, openai, or the name of an OpenAI-compatible endpoint"),
    delete: bool = typer.Option(False, "--delete", help="remove the stored key"),
) -> None:
    """Store an API key in the OS keyring (never in a file). Reads the key from a prompt or stdin."""
    if delete:
        removed = secrets.delete_secret(provider)
        console.print(f"{'removed' if removed else 'no stored'} key for {provider}")
        return
    if not secrets.keyring_available():
        raise fail(
            f"no OS keyring is available here ({secrets.keyring_name()}); gerbil-lsp never stores keys in files. "
            f"Set {secrets.env_var_for(provider)} in your environment instead."
        )
    key = getpass.getpass(f"{provider} API key: ") if sys.stdin.isatty() else sys.stdin.readline()
    try:
        secrets.store_secret(provider, key)
    except (secrets.NoKeyringError, ValueError) as exc:
        raise fail(str(exc)) from None
    console.print(f"stored the {provider} key in {secrets.keyring_name()}")


# --------------------------------------------------------------------------- status


@app.command()
def status() -> None:
    """Show what gerbil-lsp is using: settings origin, index, model, keys, latency."""
    try:
        loaded = load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    settings = loaded.settings
    table = Table(title=f"gerbil-lsp {__version__}", show_header=False)
    table.add_column(style="cyan")
    table.add_column()
    from gerbil_lsp.core.index import describe_index_source, load_index

    try:
        index = load_index(settings.index.path)
        table.add_row("index", describe_index_source(index))
    except Exception as exc:  # a broken index file must not hide the rest of the status
        table.add_row("index", f"[red]{exc}[/]")
    model = settings.model
    table.add_row("model", "none (index features only)" if model.backend == "none" else f"{model.backend}: {model.model} {model.base_url}".strip())
    for provider in ("together", "openai"):
        table.add_row(f"{provider} key", secrets.secret_source(provider) or "not set")
    table.add_row("keyring", secrets.keyring_name())
    table.add_row("data dir", str(paths.data_dir()))
    console.print(table)
    _print_latency()


def _print_latency() -> None:
    try:
        from gerbil_lsp.server.completion.latency import latency_summary
    except ImportError:
        return
    summary = latency_summary()
    if not summary:
        console.print("no model completions recorded yet", style="dim")
        return
    table = Table(title="model completion latency")
    for column in ("backend", "requests", "p50 ms", "p95 ms"):
        table.add_column(column)
    for backend, row in summary.items():
        table.add_row(backend, str(row["requests"]), f"{row['p50_ms']:.0f}", f"{row['p95_ms']:.0f}")
    console.print(table)


# --------------------------------------------------------------------------- mount parts


def _mount_parts() -> None:
    """Mount each part's commands. A part that is not installed is simply absent."""
    # One line per part, added as each part lands.
    from gerbil_lsp.core.index.cli import index_app  # core: index build | lookup | drift

    app.add_typer(index_app, name="index")
    from gerbil_lsp.server.cli import (
        serve as serve_server,  # server: gerbil-lsp serve [--tcp HOST:PORT]
    )

    @app.command("serve")
    def serve(
        tcp: str = typer.Option(None, "--tcp", help="listen on HOST:PORT instead of stdio"),
        stdio: bool = typer.Option(True, "--stdio/--no-stdio", help="speak LSP on stdin/stdout (the default)"),
    ) -> None:
        """Run the Gerbil language server (stdio by default); harvests when the workspace opted in."""
        from gerbil_lsp.harvest.server_hooks import attach_to_server

        serve_server(tcp=tcp, stdio=stdio, extensions=[attach_to_server])
    from gerbil_lsp.server.format_cli import format_command  # server: format [--check | --diff]

    app.command("format")(format_command)
    from gerbil_lsp.data.cli import data_app  # data: build | validate | stats | show

    app.add_typer(data_app, name="data")
    from gerbil_lsp.trainer.cli import train  # trainer: train (local)

    app.command("train")(train)
    from gerbil_lsp.trainer.deploy_cli import deploy_app, init, models_app  # deploy, models, init

    app.add_typer(deploy_app, name="deploy")
    app.add_typer(models_app, name="models")
    app.command("init")(init)
    from gerbil_lsp.trainer.export_cli import export  # export: GGUF adapter, Modelfile

    app.command("export")(export)
    from gerbil_lsp.eval.cli import eval_app  # eval: run | show | suite

    app.add_typer(eval_app, name="eval")
    # harvest: harvest ..., opencode install, retrain
    from gerbil_lsp.harvest import cli as harvest_cli

    app.add_typer(harvest_cli.harvest_app, name="harvest")
    app.add_typer(harvest_cli.opencode_app, name="opencode")
    app.command("retrain")(harvest_cli.retrain)


_mount_parts()


if __name__ == "__main__":
    app()
