"""`gerbil-lsp deploy ...`, `gerbil-lsp models ...` and `gerbil-lsp init`: parse, print, exit codes.

The work is in :mod:`deploy`, :mod:`versions` and :mod:`init`; mount with
``app.add_typer(deploy_app, name="deploy")``, ``app.add_typer(models_app,
name="models")`` and ``app.command("init")(init)``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)

deploy_app = typer.Typer(help="Serve a trained adapter (Ollama, Together, any OpenAI-compatible endpoint) and point "
                              "the server at it.", no_args_is_help=True)
models_app = typer.Typer(help="Model versions: list them, serve one, roll back.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


@deploy_app.command("ollama")
def deploy_ollama(
    adapter: Path = typer.Option(None, "--adapter", help="a GGUF LoRA adapter (from `gerbil-lsp export`); "
                                                         "default: the newest model version"),
    version: str = typer.Option(None, "--version", help="a model version id (see `gerbil-lsp models list`)"),
    name: str = typer.Option(None, "--name", help="Ollama model name (default gerbil-coder:<version>)"),
    base: str = typer.Option(None, "--base", help="the Ollama base model the adapter was trained on, e.g. "
                                                  "qwen2.5-coder:7b-instruct (default: from the version's base)"),
    host: str = typer.Option(None, "--host", help="Ollama's URL (default OLLAMA_HOST or http://127.0.0.1:11434)"),
) -> None:
    """Create an Ollama model from base + GGUF adapter + Qwen's FIM template, test it, and serve it."""
    from gerbil_lsp.core.settings import SettingsError, load_settings
    from gerbil_lsp.trainer import deploy
    from gerbil_lsp.trainer.versions import VersionError

    try:
        num_ctx = load_settings().settings.model.num_ctx
        deploy.deploy_ollama(adapter, version_id=version, name=name, base=base, host=host, num_ctx=num_ctx, console=console)
    except (deploy.DeployError, VersionError, SettingsError) as exc:
        raise _fail(str(exc)) from None


@deploy_app.command("together")
def deploy_together(
    adapter: Path = typer.Option(None, "--adapter", help="a PEFT adapter folder trained anywhere (default: the "
                                                         "newest model version)"),
    version: str = typer.Option(None, "--version", help="a model version id"),
    name: str = typer.Option(None, "--name", help="name in Together's model registry"),
    base_model: str = typer.Option(None, "--base-model", help="the adapter's base (HF name or ml_... id); "
                                                              "default: from adapter_config.json"),
    hf_repo: str = typer.Option(None, "--hf-repo", help="import the adapter from this Hugging Face repo URL instead"),
    project_id: str = typer.Option(None, "--project-id", help="Together project (default TOGETHER_PROJECT_ID)"),
) -> None:
    """Register the adapter with Together and serve it (a Qwen 7B LoRA needs a dedicated endpoint)."""
    from gerbil_lsp.trainer import deploy
    from gerbil_lsp.trainer.versions import VersionError

    try:
        deploy.deploy_together(adapter, version_id=version, name=name, base_model=base_model, hf_repo=hf_repo, project_id=project_id,
            console=console)
    except (deploy.DeployError, VersionError) as exc:
        raise _fail(str(exc)) from None


@deploy_app.command("openai-compatible")
def deploy_openai_compatible(
    url: str = typer.Argument(..., help="the endpoint's OpenAI-compatible base URL, e.g. http://host:8000/v1"),
    model: str = typer.Option(..., "--model", help="model name at that endpoint"),
    key_name: str = typer.Option("", "--key-name", help="keyring entry with its key (`gerbil-lsp login NAME`)"),
    chat_only: bool = typer.Option(False, "--chat-only", help="the endpoint has no /v1/completions"),
    check: bool = typer.Option(True, "--check/--no-check", help="ask the endpoint for its models first"),
) -> None:
    """Serve from any OpenAI-compatible endpoint (vLLM, llama.cpp server, LM Studio, a hosted API)."""
    from gerbil_lsp.trainer import deploy

    try:
        deploy.deploy_openai_compatible(url, model=model, key_name=key_name, chat_only=chat_only, check=check, console=console)
    except deploy.DeployError as exc:
        raise _fail(str(exc)) from None


# --------------------------------------------------------------------------- models


@models_app.command("list")
def models_list() -> None:
    """Every model version: base, dataset, eval score, when, how it is served."""
    from gerbil_lsp.trainer import versions

    try:
        found = versions.list_versions()
    except versions.VersionError as exc:
        raise _fail(str(exc)) from None
    if not found:
        console.print("no model versions yet: `gerbil-lsp train` makes one")
        return
    table = Table(title="model versions")
    for column in ("", "id", "base", "dataset", "eval", "created", "source", "served as"):
        table.add_column(column)
    for v in found:
        table.add_row("*" if v.status == "current" else "", v.id, v.base, v.dataset_sha256[:10] or "-",
                      f"{v.eval_score:.2f}" if v.eval_score is not None else "-", v.created_text(), v.source,
                      versions.describe(v))
    console.print(table)


@models_app.command("use")
def models_use(version_id: str = typer.Argument(..., help="a version id (or a unique prefix)")) -> None:
    """Serve this version: the server's model settings point at it."""
    from gerbil_lsp.core.settings import SettingsError
    from gerbil_lsp.trainer import versions

    try:
        version = versions.use(version_id)
    except (versions.VersionError, SettingsError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"now serving {version.id}: {versions.describe(version)}")


@models_app.command("rollback")
def models_rollback() -> None:
    """Serve the version that was current before this one."""
    from gerbil_lsp.core.settings import SettingsError
    from gerbil_lsp.trainer import versions

    try:
        version = versions.rollback()
    except (versions.VersionError, SettingsError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"rolled back to {version.id}: {versions.describe(version)}")


# --------------------------------------------------------------------------- init


def init(
    dataset: Path = typer.Option(None, "--dataset", "-d", help="dataset folder (default: settings data.output)"),
    path: str = typer.Option(None, "--path", help="together, local or rented (default: the recommendation)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask; for scripts"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the machine, the estimate and the steps; run nothing"),
    restart: bool = typer.Option(False, "--restart", help="forget earlier progress and start from the first step"),
) -> None:
    """Choose where to train and serve, with time and cost estimates, then run every step (resumable)."""
    from gerbil_lsp.core.settings import SettingsError, load_settings
    from gerbil_lsp.trainer import init as plan
    from gerbil_lsp.trainer.dataset import DatasetError

    try:
        settings = load_settings().settings
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    if path is not None and path not in plan.PATHS:
        raise _fail(f"--path must be one of {', '.join(plan.PATHS)}")
    dataset = Path(dataset or settings.data.output)
    machine = plan.detect(settings)
    console.print(plan.describe_machine(machine))
    chosen, why = plan.recommend(machine)
    console.print(f"[bold]recommended: {chosen}[/] -- {why}")
    try:
        tokens, method = plan.dataset_tokens(dataset, settings.data.tokenizer)
    except (DatasetError, OSError):
        tokens, method = None, ""
    if tokens is None:
        console.print(f"[dim]no dataset at {dataset} yet: the estimate comes after `data build` "
                      "(re-run `gerbil-lsp init --dry-run` then)[/]")
    else:
        console.print(plan.estimates_table(plan.estimates(tokens, settings, machine), chosen, tokens, method))
    path = path or chosen
    if path != chosen:
        console.print(f"using --path {path} instead of the recommendation")
    steps = plan.default_steps(path)
    ctx = plan.Context(path, dataset, settings)
    if restart and not dry_run:
        plan.save_state({})
    state = plan.load_state()
    if state.get("path") != path or state.get("dataset") != str(dataset):
        state = {}
    if dry_run:
        console.print(plan.steps_table(steps, state, ctx))
        console.print("dry run: nothing was run")
        return
    if not yes and not typer.confirm(f"Run these steps on the {path} path?", default=True):
        console.print(plan.steps_table(steps, state, ctx))
        return
    final = plan.walk(steps, ctx, console=console)
    if not final.get("finished"):
        raise typer.Exit(1)
