"""`gerbil-lsp init`: train where, serve where? Look at the machine, recommend a path, then walk it.

Detection: CUDA GPUs and their memory (torch when importable, else
``nvidia-smi``), Apple silicon memory, a reachable Ollama (``GET /api/version``
with a short timeout), a Together key (keyring or ``TOGETHER_API_KEY``; only
*where* it is, never the key). A 7B 4-bit LoRA wants a 16 GB GPU.

Paths: ``together`` (no GPU needed), ``local`` (Unsloth + Ollama on this GPU),
``rented`` (train on a rented GPU, serve with Together or Ollama). Each comes
with a time and cost estimate from the dataset's token count; prices are the
``prices`` settings, throughput the trainer's planning figures.

The walk -- data build -> train -> export/deploy -> OpenCode config -> eval -- runs
each step as the ``gerbil-lsp`` command a user could type, records each step's
outcome in a state file (resumable: a re-run starts at the first step not done),
and reports a step whose part is not installed as unavailable instead of
pretending to do it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gerbil_lsp.core import paths

GPU_GB_FOR_7B_LORA = 16.0
STATE_FILE = "init.json"
PATHS = ("together", "local", "rented")
RENTED_SETUP_HOURS = 0.25  # boot, install, copy the adapter back


# --------------------------------------------------------------------------- what the machine has


@dataclass
class Machine:
    cuda: list[tuple[str, float]] = field(default_factory=list)  # (name, GiB)
    cuda_source: str = ""  # torch | nvidia-smi | ""
    apple_memory_gb: float | None = None
    ollama_url: str = ""
    ollama_version: str | None = None
    together_key: str | None = None  # where the key is (keyring / env var), never the key
    unsloth: bool = False

    @property
    def best_gpu_gb(self) -> float:
        return max((gb for _, gb in self.cuda), default=0.0)


def _cuda_from_torch() -> list[tuple[str, float]] | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return []
    return [(torch.cuda.get_device_name(i), torch.cuda.get_device_properties(i).total_memory / 2**30)
            for i in range(torch.cuda.device_count())]


def _cuda_from_nvidia_smi() -> list[tuple[str, float]]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        name, _, mib = line.rpartition(",")
        if name and mib.strip().isdigit():
            gpus.append((name.strip(), int(mib) / 1024))
    return gpus


def _apple_memory_gb() -> float | None:
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return None
    try:
        out = subprocess.run(["sysctl", "-n", "hw.memsize"], capture_output=True, text=True, timeout=5).stdout
        return int(out.strip()) / 2**30
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def ollama_url(settings: Any) -> str:
    if settings.model.backend == "ollama" and settings.model.base_url:
        return settings.model.base_url
    host = os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
    return host if host.startswith(("http://", "https://")) else "http://" + host


def _ollama_version(url: str, timeout: float) -> str | None:
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/api/version", timeout=timeout)
        return response.json().get("version") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def detect(settings: Any, *, timeout: float = 0.5) -> Machine:
    from gerbil_lsp.core.secrets import secret_source

    machine = Machine()
    gpus = _cuda_from_torch()
    if gpus is None:
        machine.cuda, machine.cuda_source = _cuda_from_nvidia_smi(), "nvidia-smi"
    else:
        machine.cuda, machine.cuda_source = gpus, "torch"
    machine.apple_memory_gb = _apple_memory_gb()
    machine.ollama_url = ollama_url(settings)
    machine.ollama_version = _ollama_version(machine.ollama_url, timeout)
    machine.together_key = secret_source("together")
    import importlib.util

    machine.unsloth = importlib.util.find_spec("unsloth") is not None
    return machine


# --------------------------------------------------------------------------- estimates


@dataclass
class Estimate:
    path: str
    hours: float
    usd: float
    how: str


def dataset_tokens(dataset: Path, tokenizer: str | None = None) -> tuple[int, str]:
    """Tokens in the training files (chat turns + FIM text) and how they were counted."""
    from gerbil_lsp.data.stats import LengthCounter
    from gerbil_lsp.trainer.dataset import dataset_files, to_messages

    texts = []
    for path in dataset_files(Path(dataset)):
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError:
                continue  # `data validate` / train name bad lines; an estimate skips them
            messages = to_messages(row)
            texts.append("\n".join(m.get("content", "") for m in messages) if messages is not None
                         else row.get("prompt", "") + row.get("completion", ""))
    counter = LengthCounter(tokenizer)
    return sum(counter.lengths(texts)), counter.method


def throughput() -> dict[str, float]:
    """Planning figures (tokens/s for a 7B LoRA) from the trainer's own table."""
    from gerbil_lsp.trainer.cli import ROUGH_TOKENS_PER_SECOND

    return dict(ROUGH_TOKENS_PER_SECOND)


def estimates(tokens: int, settings: Any, machine: Machine) -> dict[str, Estimate]:
    train_tokens = tokens * settings.train.epochs
    rates = throughput()
    prices = settings.prices
    gpu_hours = train_tokens / rates["cuda"] / 3600
    out = {
        "together": Estimate("together", gpu_hours, train_tokens / 1e6 * prices.together_lora_per_mtok,
                             f"{train_tokens / 1e6:.2f} M training tokens x ${prices.together_lora_per_mtok}/M "
                             "(prices.together_lora_per_mtok); plus queue time"),
        "rented": Estimate("rented", gpu_hours + RENTED_SETUP_HOURS,
                           (gpu_hours + RENTED_SETUP_HOURS) * prices.gpu_hour,
                           f"~{rates['cuda']:g} tokens/s + {RENTED_SETUP_HOURS} h setup at ${prices.gpu_hour}/h "
                           "(prices.gpu_hour)"),
    }
    if machine.best_gpu_gb:
        out["local"] = Estimate("local", gpu_hours, 0.0, f"~{rates['cuda']:g} tokens/s on this GPU; no fee")
    elif machine.apple_memory_gb:
        out["local"] = Estimate("local", train_tokens / rates["mps"] / 3600, 0.0,
                                f"~{rates['mps']:g} tokens/s on Apple silicon (MPS); no fee")
    else:
        out["local"] = Estimate("local", train_tokens / rates["cpu"] / 3600, 0.0,
                                f"~{rates['cpu']:g} tokens/s on this CPU: impractical for a 7B model")
    return out


def recommend(machine: Machine) -> tuple[str, str]:
    """(path, why) -- the rules the module docstring states."""
    if machine.best_gpu_gb >= GPU_GB_FOR_7B_LORA:
        extra = "" if machine.unsloth else " (install it: pip install 'gerbil-lsp[train,unsloth]')"
        return "local", (f"this machine has a {machine.best_gpu_gb:.0f} GB CUDA GPU: enough for a 7B 4-bit LoRA "
                         f"with Unsloth{extra}; serve it with Ollama")
    if machine.cuda:
        why = f"the GPU here has {machine.best_gpu_gb:.0f} GB, under the {GPU_GB_FOR_7B_LORA:.0f} GB a 7B LoRA wants"
    elif machine.apple_memory_gb:
        why = f"Apple silicon ({machine.apple_memory_gb:.0f} GB) trains a 7B LoRA slowly"
    else:
        why = "no CUDA GPU here"
    if machine.together_key or not machine.ollama_version:
        key = "" if machine.together_key else "; store a key first: gerbil-lsp login together"
        return "together", f"{why}: train on Together, no GPU needed{key}"
    return "rented", f"{why} and no Together key, but Ollama runs here: train on a rented GPU, serve with Ollama"


# --------------------------------------------------------------------------- the steps


@dataclass
class Context:
    path: str
    dataset: Path
    settings: Any


@dataclass
class Step:
    name: str
    title: str
    command: Callable[[Context], list[str] | None]  # None: nothing to run (manual step)
    needs: list[list[str]]  # CLI commands that must exist (the parts installed)
    manual: str = ""  # instructions when the step is done by hand
    already: Callable[[Context], str | None] = lambda ctx: None  # why it need not run, if so


def cli_has(words: list[str]) -> bool:
    """Is ``gerbil-lsp <words...>`` a command of this install?"""
    import typer

    from gerbil_lsp.cli import app

    command = typer.main.get_command(app)
    for word in words:
        commands = getattr(command, "commands", None)
        if not commands or word not in commands:
            return False
        command = commands[word]
    return True


def _gerbil(*args: str) -> list[str]:
    return [sys.executable, "-m", "gerbil_lsp", *args]


def _eval_spec(settings: Any) -> str:
    from gerbil_lsp.core.settings import load_settings
    from gerbil_lsp.server.backends import spec_from_settings

    spec = spec_from_settings(load_settings().settings)  # re-read: the deploy step just changed it
    if spec is None:
        raise LookupError("no model is served yet (model.backend = none)")
    return spec


def _dataset_present(ctx: Context) -> str | None:
    from gerbil_lsp.trainer.dataset import DatasetError, dataset_files

    try:
        dataset_files(ctx.dataset)
    except (DatasetError, OSError):
        return None
    return f"a dataset is already at {ctx.dataset} (run `gerbil-lsp data build` yourself to rebuild it)"


RENTED_HOWTO = ("On the rented GPU box: pip install 'gerbil-lsp[train,unsloth]'; copy the dataset there; "
                "gerbil-lsp train --dataset DATASET. Copy the run's adapter/ folder back, then: "
                "gerbil-lsp deploy together --adapter ADAPTER (or export + deploy ollama). "
                "Re-run `gerbil-lsp init` afterwards to continue.")


def default_steps(path: str) -> list[Step]:
    train_backend = "together" if path == "together" else "local"
    steps = [
        Step("data", "build the dataset", lambda c: _gerbil("data", "build", "-o", str(c.dataset)),
             [["data", "build"]], already=_dataset_present),
    ]
    if path == "rented":
        steps.append(Step("train", "train on a rented GPU (by hand)", lambda c: None, [], RENTED_HOWTO))
        steps.append(Step("deploy", "register the adapter", lambda c: _gerbil("deploy", "together"),
                          [["deploy", "together"]]))
    else:
        steps.append(Step("train", f"train ({train_backend})",
                          lambda c: _gerbil("train", "--backend", train_backend, "--dataset", str(c.dataset)),
                          [["train"]]))
        if path == "together":
            steps.append(Step("deploy", "register with Together", lambda c: _gerbil("deploy", "together"),
                              [["deploy", "together"]]))
        else:
            steps.append(Step("export", "export the adapter to GGUF", lambda c: _gerbil("export"), [["export"]]))
            steps.append(Step("deploy", "create the Ollama model", lambda c: _gerbil("deploy", "ollama"),
                              [["deploy", "ollama"]]))
    steps.append(Step("opencode", "configure OpenCode", lambda c: _gerbil("opencode", "install"),
                      [["opencode", "install"]]))
    steps.append(Step("eval", "evaluate the served model",
                      lambda c: _gerbil("eval", "run", "--model", _eval_spec(c.settings)), [["eval", "run"]]))
    return steps


def unavailable(step: Step, has: Callable[[list[str]], bool] = cli_has) -> str | None:
    missing = [" ".join(words) for words in step.needs if not has(words)]
    return f"`gerbil-lsp {', '.join(missing)}` is not part of this install" if missing else None


# --------------------------------------------------------------------------- state and the walk


def state_path() -> Path:
    return paths.state_dir() / STATE_FILE


def load_state() -> dict:
    try:
        return json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def save_state(state: dict) -> None:
    from gerbil_lsp.core.atomic import write_text_atomic

    write_text_atomic(state_path(), json.dumps(state, indent=1))


def steps_table(steps: list[Step], state: dict, ctx: Context, *, has=cli_has) -> Table:
    table = Table(title=f"gerbil-lsp init: {ctx.path}")
    for column in ("#", "step", "status", "command"):
        table.add_column(column)
    done = state.get("steps", {})
    for number, step in enumerate(steps, 1):
        status = done.get(step.name, {}).get("status") or ("done" if step.already(ctx) else None) or (
            "unavailable" if unavailable(step, has) else "to do")
        try:
            command = step.command(ctx)
        except Exception:  # noqa: BLE001 - a command that can only be known later (eval spec before deploy)
            command = ["(known after the earlier steps)"]
        shown = "by hand" if command is None else " ".join(["gerbil-lsp", *command[3:]] if command[:3] == _gerbil()
                                                            else command)
        table.add_row(str(number), step.title, status, shown)
    return table


def walk(steps: list[Step], ctx: Context, *, console: Console, has=cli_has,
         run: Callable[[list[str]], int] | None = None) -> dict:
    """Run the steps not done yet, recording each; stop at the first that fails, is manual or unavailable."""
    run = run or (lambda argv: subprocess.call(argv))
    state = load_state()
    if state.get("path") != ctx.path or state.get("dataset") != str(ctx.dataset):
        state = {"path": ctx.path, "dataset": str(ctx.dataset), "started": time.time(), "steps": {}}
    record = state.setdefault("steps", {})
    for number, step in enumerate(steps, 1):
        if record.get(step.name, {}).get("status") == "done":
            continue
        console.rule(f"step {number}/{len(steps)}: {step.title}")
        skip = step.already(ctx)
        if skip:
            record[step.name] = {"status": "done", "reason": skip, "at": time.time()}
            save_state(state)
            console.print(skip)
            continue
        reason = unavailable(step, has)
        if reason:
            record[step.name] = {"status": "unavailable", "reason": reason, "at": time.time()}
            save_state(state)
            console.print(f"[yellow]{step.title}: unavailable -- {reason}. Stopping here; re-run "
                          "`gerbil-lsp init` once it is installed.[/]")
            break
        argv = step.command(ctx)
        if argv is None:
            record[step.name] = {"status": "waiting", "at": time.time()}
            save_state(state)
            console.print(step.manual)
            break
        code = run(argv)
        record[step.name] = {"status": "done" if code == 0 else "failed", "rc": code, "argv": argv[3:] if
                             argv[:3] == _gerbil() else argv, "at": time.time()}
        save_state(state)
        if code != 0:
            console.print(f"[red]{step.title} failed (exit {code}); fix what it said, then re-run "
                          "`gerbil-lsp init` to continue from this step.[/]")
            break
    else:
        state["finished"] = time.time()
        save_state(state)
    console.print(steps_table(steps, state, ctx, has=has))
    return state


def describe_machine(machine: Machine) -> Table:
    table = Table(title="this machine", show_header=False)
    table.add_column(style="cyan")
    table.add_column()
    gpus = ", ".join(f"{name} ({gb:.0f} GB)" for name, gb in machine.cuda) or "none"
    table.add_row("CUDA GPUs", gpus + (f"  [dim](via {machine.cuda_source})[/]" if machine.cuda else ""))
    table.add_row("Apple silicon", f"{machine.apple_memory_gb:.0f} GB" if machine.apple_memory_gb else "no")
    table.add_row("Ollama", f"{machine.ollama_version} at {machine.ollama_url}" if machine.ollama_version
                  else f"not reachable at {machine.ollama_url}")
    table.add_row("Together key", machine.together_key or "none (gerbil-lsp login together)")
    table.add_row("Unsloth", "installed" if machine.unsloth else "not installed")
    return table


def estimates_table(found: dict[str, Estimate], chosen: str, tokens: int, method: str) -> Table:
    table = Table(title=f"estimates for {tokens:,} dataset tokens ({method})")
    for column in ("path", "time", "cost (USD)", "how"):
        table.add_column(column)
    names = {"together": "Together (no GPU)", "local": "local Unsloth + Ollama", "rented": "rented GPU"}
    for key in PATHS:
        e = found[key]
        mark = " [bold green]<- recommended[/]" if key == chosen else ""
        table.add_row(names[key] + mark, f"{e.hours:.1f} h" if e.hours >= 0.1 else f"{e.hours * 60:.0f} min",
                      f"{e.usd:.2f}", e.how)
    return table


def plan_summary(machine: Machine, path: str, why: str, tokens: int | None, method: str,
                 found: dict[str, Estimate] | None) -> dict:
    return {"machine": asdict(machine), "path": path, "why": why, "tokens": tokens, "method": method,
            "estimates": {k: asdict(v) for k, v in (found or {}).items()}}
