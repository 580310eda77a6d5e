"""`gerbil-lsp train`: say what will happen and roughly how long, then train locally."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from gerbil_lsp.core.settings import SettingsError, load_settings

console = Console()

# Rough training throughput (tokens/s) for a 7B LoRA, by device class: an estimate to plan by, not a promise.
ROUGH_TOKENS_PER_SECOND = {"cuda": 2500.0, "mps": 150.0, "cpu": 4.0}


def _count(dataset: Path) -> tuple[int, int]:
    from gerbil_lsp.trainer.dataset import dataset_files

    examples = chars = 0
    for path in dataset_files(dataset):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                examples += 1
                chars += len(line)
    return examples, chars


def _launch_on_gpus(gpus: int, fsdp: bool, dry_run: bool) -> int:
    """Run this same `train` command once per GPU under accelerate launch; its exit code."""
    import subprocess
    import sys

    from gerbil_lsp.trainer.engine import accelerate_command

    args, skip = [], False
    for arg in sys.argv[2:]:  # after `gerbil-lsp train`; the launcher's own flags are dropped
        if skip:
            skip = False
        elif arg == "--gpus":
            skip = True
        elif not arg.startswith("--gpus=") and arg != "--fsdp" and arg != "--dry-run":
            args.append(arg)
    command = accelerate_command(args, gpus, fsdp=fsdp)
    console.print("running: " + " ".join(command), highlight=False, soft_wrap=True)
    if dry_run:
        return 0
    return subprocess.run(command, check=False).returncode  # noqa: S603 -- our own argv


def train(
    dataset: Path = typer.Option(None, "--dataset", "-d", help="a `gerbil-lsp data build` folder (default: data.output)"),
    output: Path = typer.Option(None, "--output", "-o", help="run folder (default: a new one in the runs dir)"),
    backend: str = typer.Option(None, help="local or together (default: train.backend)"),
    base_model: str = typer.Option(None, help="HF model dir or id (default: train.base_model)"),
    epochs: float = typer.Option(None), learning_rate: float = typer.Option(None, "--lr"),
    lora_r: int = typer.Option(None), lora_alpha: int = typer.Option(None), batch_size: int = typer.Option(None),
    grad_accum: int = typer.Option(None), max_length: int = typer.Option(None), seed: int = typer.Option(None),
    max_steps: int = typer.Option(None, help="stop after this many steps"),
    resume: bool = typer.Option(False, help="continue from the run folder's last checkpoint"),
    dry_run: bool = typer.Option(False, help="say what would happen and stop"),
    attach: str = typer.Option(None, "--attach", help="together: follow this job id again (after Ctrl-C)"),
    from_hf_model: str = typer.Option(None, "--from-hf-model", help="together: start from this HF repo"),
    cancel: str = typer.Option(None, "--cancel", help="together: cancel this job id"),
    engine: str = typer.Option(None, "--engine", help="local: auto (Unsloth on CUDA when installed), unsloth or peft"),
    gpus: int = typer.Option(1, "--gpus", min=1, help="local: train on N GPUs (re-runs under accelerate launch)"),
    fsdp: bool = typer.Option(False, "--fsdp", help="with --gpus: shard the base across the GPUs (FSDP) instead "
                                                    "of copying it to each (DDP)"),
) -> None:
    """Train a LoRA adapter on your dataset: locally (Unsloth or transformers + peft + trl) or on Together."""
    try:
        settings = load_settings().settings
    except SettingsError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    backend = backend or settings.train.backend
    if backend not in ("local", "together"):
        console.print(f"[red]error:[/] unknown --backend {backend!r}: use local or together")
        raise typer.Exit(1)
    from gerbil_lsp.trainer.dataset import DatasetError
    from gerbil_lsp.trainer.recipe import Recipe

    recipe = Recipe.from_settings(settings.train, base_model=base_model, epochs=epochs, learning_rate=learning_rate,
                                  lora_r=lora_r, lora_alpha=lora_alpha, batch_size=batch_size, grad_accum=grad_accum,
                                  max_length=max_length, seed=seed, max_steps=max_steps, engine=engine)
    dataset = Path(dataset or settings.data.output)
    if backend == "local" and gpus > 1:
        raise typer.Exit(_launch_on_gpus(gpus, fsdp, dry_run))
    if backend == "together":  # the remote half lives in trainer/together.py
        from gerbil_lsp.trainer.together import run_from_cli

        raise typer.Exit(run_from_cli(settings, recipe, dataset, output, attach=attach, from_hf_model=from_hf_model,
                                      cancel_job=cancel, dry_run=dry_run, console=console))
    try:
        examples, chars = _count(dataset)
    except DatasetError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    from gerbil_lsp.trainer.local import device_name

    device = device_name()
    tokens = chars / 3.0 * recipe.epochs
    rate = ROUGH_TOKENS_PER_SECOND[device.split(":")[0]]
    console.print(f"Will train a LoRA (r={recipe.lora_r}, alpha={recipe.lora_alpha}) on {recipe.base_model}\n"
                  f"over {examples} examples (~{tokens / 1e6:.2f} M tokens for {recipe.epochs:g} epochs, estimated "
                  f"at 3 characters per token) on {device}: roughly {tokens / rate / 3600:.1f} h at ~{rate:g} tokens/s "
                  f"(a planning estimate for a 7B model on this kind of device).")
    if device == "cpu":
        console.print("[yellow]No GPU here: a 7B model trains impractically slowly on a CPU. Train on a CUDA box "
                      "or pass --base-model with a small model.[/]")
    if dry_run:
        return
    from gerbil_lsp.trainer.local import train_local

    try:
        record = train_local(recipe, dataset, output, resume=resume)
    except (DatasetError, RuntimeError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    from gerbil_lsp.trainer.candidate import register_local
    from gerbil_lsp.trainer.engine import is_main_process

    if not is_main_process():  # one of several GPU processes: the first one records the version
        return
    version = register_local(record)
    console.print(f"adapter: {record.adapter_dir}\nrun record: {record.run_dir}/run.json, loss curve: "
                  f"{record.run_dir}/loss.png ({record.seconds:.0f} s)\nmodel version: {version.id} (serve it: "
                  f"`gerbil-lsp export` then `gerbil-lsp deploy ollama --version {version.id}`)")
