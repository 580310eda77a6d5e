"""Train the LoRA on Together's fine-tuning service, through the official ``together`` SDK.

The flow, each step saying what it does:

1. our dataset -> Together's conversational ``{"messages": [...]}`` JSONL, checked
   line by line against Together's documented rules (the data part's checker)
   *before anything is uploaded*: a broken line stops here, with its number;
2. ``files.upload(check=True)`` (the SDK checks again, then uploads);
3. ``fine_tuning.create`` with our LoRA recipe mapped onto Together's
   parameters (clamped to the model's published limits, and said so), after
   showing Together's own price estimate;
4. the job id is written to ``job.json`` in the run folder at once, so Ctrl-C
   never loses a paid job: ``gerbil-lsp train --backend together --attach ID``
   follows it again;
5. events are followed with a progress bar until the job ends;
6. the adapter is downloaded (``fine_tuning.content(checkpoint="adapter")``),
   unpacked into the run folder, and registered as a model version.

Qwen2.5-Coder-7B-Instruct is not in Together's fine-tunable list; the default
base is ``train.together_base_model`` (Qwen/Qwen2.5-7B-Instruct), or
``--from-hf-model`` to start from a Hugging Face repo of the same architecture.
FIM rows cannot be expressed as Together conversations: they are left out and
counted (the local backend trains them).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic
from gerbil_lsp.trainer.recipe import Recipe

TERMINAL = {"completed", "error", "user_error", "cancelled"}
JOB_FILE = "job.json"
KEEP_KEYS = ("role", "content", "weight")


class TogetherTrainError(RuntimeError):
    """Something the user must act on, said in their terms (what happened, what to do)."""


# --------------------------------------------------------------------------- dataset -> Together JSONL


@dataclass
class PreparedFile:
    path: Path
    examples: int
    skipped_fim: int
    dataset_sha256: str
    sources: list[tuple[str, int]] = field(default_factory=list)  # (source file, line) per output line


def prepare_file(dataset: Path, out: Path) -> PreparedFile:
    """Convert our dataset (folder or file) to Together's conversational JSONL, checked; raise on any bad line."""
    from gerbil_lsp.data import check_together_file
    from gerbil_lsp.trainer.dataset import DatasetError, check_files, dataset_files, to_messages

    files = dataset_files(Path(dataset))
    check_files(files)  # our own format rules, every bad line named (DatasetError)
    digest = hashlib.sha256()
    lines: list[str] = []
    sources: list[tuple[str, int]] = []
    skipped_fim = 0
    for path in files:
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data)
        for number, raw in enumerate(data.decode("utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            row = json.loads(raw)
            messages = to_messages(row)
            if messages is None:
                skipped_fim += "prompt" in row and "completion" in row
                continue
            cleaned = [{k: m[k] for k in KEEP_KEYS if k in m} for m in messages]
            lines.append(json.dumps({"messages": cleaned}, ensure_ascii=False))
            sources.append((str(path), number))
    if not lines:
        raise DatasetError(f"{dataset}: no conversational rows to send to Together (only FIM rows?); "
                           "Together trains on chat `messages`; use --backend local for a FIM-only dataset")
    write_text_atomic(out, "\n".join(lines) + "\n")
    problems = check_together_file(out)
    if problems:
        shown = [f"{sources[n - 1][0]}:{sources[n - 1][1]}: {msg}" if 0 < n <= len(sources) else f"{out}: {msg}"
                 for n, msg in problems[:20]]
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DatasetError(f"{len(problems)} line(s) break Together's data rules; nothing was uploaded:\n  "
                           + "\n  ".join(shown) + more)
    return PreparedFile(out, len(lines), skipped_fim, digest.hexdigest(), sources)


# --------------------------------------------------------------------------- the recipe -> Together's parameters


def hyperparameters(recipe: Recipe, limits: Any, examples: int) -> tuple[dict[str, Any], list[str]]:
    """``fine_tuning.create`` keyword arguments for our recipe, and notes on what had to change."""
    notes: list[str] = []
    lora = limits.lora_training
    epochs = max(1, math.ceil(recipe.epochs))
    if epochs != recipe.epochs:
        notes.append(f"Together takes whole epochs: {recipe.epochs:g} -> {epochs}")
    if epochs > limits.max_num_epochs:
        notes.append(f"epochs {epochs} -> {limits.max_num_epochs} (the model's maximum)")
        epochs = limits.max_num_epochs
    batch = recipe.batch_size * recipe.grad_accum  # Together's batch_size is the effective batch
    clamped = min(max(batch, lora.min_batch_size), lora.max_batch_size)
    if clamped != batch:
        notes.append(f"batch {recipe.batch_size} x grad_accum {recipe.grad_accum} = {batch} is outside the "
                     f"model's LoRA range [{lora.min_batch_size}, {lora.max_batch_size}]: using {clamped}")
    rank = recipe.lora_r
    if lora.max_rank and rank > lora.max_rank:
        notes.append(f"lora_r {rank} -> {lora.max_rank} (the model's maximum rank)")
        rank = lora.max_rank
    lr = recipe.learning_rate
    if not limits.min_learning_rate <= lr <= limits.max_learning_rate:
        lr_new = min(max(lr, limits.min_learning_rate), limits.max_learning_rate)
        notes.append(f"learning rate {lr:g} -> {lr_new:g} (the model's range)")
        lr = lr_new
    modules = list(recipe.target_modules)
    unknown = [m for m in modules if lora.target_modules and m not in lora.target_modules]
    if unknown:
        raise TogetherTrainError(f"LoRA target modules {unknown} are not trainable on {limits.api_model_name} "
                                 f"(it offers {lora.target_modules}); change train.target_modules")
    max_length = min(recipe.max_length, limits.max_seq_length_sft)
    if max_length != recipe.max_length:
        notes.append(f"max_length {recipe.max_length} -> {max_length} (the model's SFT maximum)")
    max_length = max(max_length, limits.min_max_seq_length)
    steps = max(1, math.ceil(examples / clamped) * epochs)
    warmup_ratio = min(1.0, recipe.warmup_steps / steps)
    notes.append(f"warmup {recipe.warmup_steps} steps ~ warmup_ratio {warmup_ratio:.3f} of ~{steps} steps "
                 "(counted before packing)")
    return {
        "n_epochs": epochs,
        "n_checkpoints": min(epochs, limits.max_num_checkpoints) or 1,
        "learning_rate": lr,
        "batch_size": clamped,
        "max_seq_length": max_length,
        "packing": recipe.packing,
        "warmup_ratio": round(warmup_ratio, 4),
        "lora": True,
        "lora_r": rank,
        "lora_alpha": recipe.lora_alpha,
        "lora_dropout": recipe.lora_dropout,
        "lora_trainable_modules": ",".join(modules),
        "random_seed": recipe.seed,
        "train_on_inputs": "auto",  # conversational data: loss on assistant turns only
    }, notes


# --------------------------------------------------------------------------- errors in the user's terms


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error)
        return str(error)
    return str(body or exc)


def explain(exc: Exception) -> str:
    """A Together SDK exception -> what happened and what to do."""
    import together

    message = _api_message(exc)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, together.AuthenticationError):
        return (f"Together refused the request (401: {message}). The key is wrong or revoked, or the free-trial "
                "credits are used up: check it at api.together.ai, then `gerbil-lsp login together`")
    if status == 402 or "credit" in message.lower() or "balance" in message.lower() or "billing" in message.lower():
        return (f"Together says the account cannot pay for this ({status}: {message}). Add credits under "
                "Settings -> Billing at api.together.ai, then re-run; nothing was trained")
    if isinstance(exc, together.RateLimitError):
        return (f"Together's rate limit or quota was hit (429: {message}). Wait a few minutes and re-run, or "
                "raise the limit on your account")
    if isinstance(exc, together.PermissionDeniedError):
        return f"Together denied access (403: {message}); the key's project may not allow fine-tuning"
    if isinstance(exc, together.BadRequestError | together.UnprocessableEntityError):
        return (f"Together rejected the request as invalid ({status}: {message}). Check the train.* settings "
                "named there (and the base model: `--from-hf-model` / train.together_base_model)")
    if isinstance(exc, together.NotFoundError):
        return f"Together does not know that ({message}); check the job or file id"
    if isinstance(exc, together.APIConnectionError):
        return f"could not reach Together ({exc}); check the network and re-run (a job already created keeps running)"
    if isinstance(exc, together.APIStatusError):
        return f"Together answered {status}: {message}"
    from together.lib import FileTypeError

    if isinstance(exc, FileTypeError):
        return f"the Together SDK's own file check failed; nothing was uploaded:\n{exc}"
    return str(exc)


# --------------------------------------------------------------------------- run records


@dataclass
class TogetherRun:
    job_id: str
    run_dir: str
    model: str
    from_hf_model: str | None = None
    training_file: str = ""
    dataset: str = ""
    dataset_sha256: str = ""
    examples: int = 0
    skipped_fim: int = 0
    request: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    estimate: dict = field(default_factory=dict)
    status: str = "pending"
    output_name: str = ""
    adapter_dir: str = ""
    version_id: str = ""
    created: float = 0.0
    events_seen: int = 0

    def save(self) -> None:
        write_text_atomic(Path(self.run_dir) / JOB_FILE, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, file: Path) -> TogetherRun:
        data = json.loads(file.read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def find_run(job_id: str) -> TogetherRun | None:
    """The run folder that launched ``job_id``, if this machine launched it."""
    for file in sorted(paths.runs_dir().glob(f"*/{JOB_FILE}")):
        try:
            run = TogetherRun.load(file)
        except (OSError, ValueError, TypeError):
            continue
        if run.job_id == job_id:
            return run
    return None


def make_client(base_url: str | None = None, *, max_retries: int = 2):
    """A Together SDK client with the key from the keyring (or TOGETHER_API_KEY)."""
    from together import Together

    from gerbil_lsp.core.secrets import MissingSecretError, require_secret

    try:
        key = require_secret("together")
    except MissingSecretError as exc:
        raise TogetherTrainError(f"{exc}. Get a key at api.together.ai (Settings -> API keys)") from None
    return Together(api_key=key, base_url=base_url, max_retries=max_retries)


# --------------------------------------------------------------------------- following a job


def _event_line(event: Any) -> str:
    level = getattr(event, "level", None) or "info"
    style = {"error": "red", "warning": "yellow"}.get(str(level).replace("legacy_i", ""), "dim")
    return f"[{style}]{event.created_at}  {event.message}[/]"


def follow(client: Any, run: TogetherRun, *, console: Console, poll_s: float = 10.0) -> str:
    """Poll the job and its events until it ends; return the final status. Ctrl-C leaves the job running."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]{task.fields[status]}"), BarColumn(),
               TextColumn("step {task.completed}/{task.fields[steps]}"), TimeElapsedColumn())
    status = run.status
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("together", total=None, status=status, steps="?")
            while True:
                job = client.fine_tuning.retrieve(run.job_id)
                status = str(getattr(job.status, "value", job.status))
                events = client.fine_tuning.list_events(run.job_id).data
                for event in events[run.events_seen:]:
                    progress.console.print(_event_line(event), highlight=False)
                    if event.total_steps:
                        progress.update(task, total=event.total_steps, steps=event.total_steps)
                    if event.step is not None:
                        progress.update(task, completed=event.step)
                run.events_seen = len(events)
                run.status = status
                run.output_name = getattr(job, "x_model_output_name", None) or run.output_name
                run.save()
                progress.update(task, status=status)
                if status in TERMINAL:
                    if status == "completed" and progress.tasks[task].total:
                        progress.update(task, completed=progress.tasks[task].total)
                    return status
                time.sleep(poll_s)
    except KeyboardInterrupt:
        run.save()
        console.print(f"\n[yellow]Stopped following; the job keeps running on Together (and is billed).[/]\n"
                      f"  follow it again:  gerbil-lsp train --backend together --attach {run.job_id}\n"
                      f"  cancel it:        gerbil-lsp train --backend together --cancel {run.job_id}")
        raise


# --------------------------------------------------------------------------- the adapter


def _unpack(archive: Path, target: Path) -> None:
    """Unpack Together's adapter archive (.tar.zst, .tar.gz or .tar) into ``target``."""
    with open(archive, "rb") as fh:
        magic = fh.read(4)
    if magic == b"\x28\xb5\x2f\xfd":  # zstd frame
        import zstandard

        with open(archive, "rb") as fh:
            data = zstandard.ZstdDecompressor().stream_reader(fh).read()
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    else:
        tar = tarfile.open(archive, mode="r:*")
    with tar:
        tar.extractall(target, filter="data")


def _adapter_root(folder: Path) -> Path:
    configs = sorted(folder.rglob("adapter_config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise TogetherTrainError(f"the downloaded archive has no adapter_config.json ({folder}); "
                                 "was the job a LoRA job?")
    return configs[0].parent


def download_adapter(client: Any, run: TogetherRun, *, console: Console) -> Path:
    """Download and unpack the final LoRA adapter into ``run_dir/adapter`` (atomically: temp name, then rename)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    run_dir = Path(run.run_dir)
    target = run_dir / "adapter"
    if (target / "adapter_config.json").is_file():
        return target
    with tempfile.TemporaryDirectory(dir=run_dir, prefix=".download-") as tmp:
        archive = Path(tmp) / "adapter.archive"
        with client.fine_tuning.with_streaming_response.content(ft_id=run.job_id, checkpoint="adapter") as response:
            total = int(response.headers.get("content-length") or 0) or None
            with Progress(TextColumn("downloading adapter"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          console=console) as progress, open(archive, "wb") as out:
                task = progress.add_task("download", total=total)
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                    progress.advance(task, len(chunk))
        unpacked = Path(tmp) / "unpacked"
        try:
            _unpack(archive, unpacked)
        except (tarfile.TarError, OSError) as exc:
            raise TogetherTrainError(f"the adapter download is not a readable archive ({exc}); "
                                     f"re-run with --attach {run.job_id} to download it again") from None
        root = _adapter_root(unpacked)
        staged = run_dir / ".adapter.partial"
        shutil.rmtree(staged, ignore_errors=True)
        shutil.move(str(root), staged)
        staged.rename(target)
    return target


def _register(run: TogetherRun) -> str:
    from gerbil_lsp.trainer import versions

    if run.version_id:
        return run.version_id
    version = versions.add_version(Path(run.adapter_dir), base=run.from_hf_model or run.model,
                                   dataset_sha256=run.dataset_sha256, source="together",
                                   meta={"job_id": run.job_id, "output_name": run.output_name,
                                         "together_base": run.model, "run_dir": run.run_dir})
    return version.id


def finish(client: Any, run: TogetherRun, *, console: Console, poll_s: float = 10.0) -> TogetherRun:
    """Follow a job to its end; download, record and register the adapter when it completed."""
    status = follow(client, run, console=console, poll_s=poll_s)
    if status != "completed":
        events = client.fine_tuning.list_events(run.job_id).data
        last = next((e.message for e in reversed(events) if (e.level or "").endswith("error")), "")
        raise TogetherTrainError(f"Together job {run.job_id} ended {status}" + (f": {last}" if last else "")
                                 + f" (run folder {run.run_dir})")
    run.adapter_dir = str(download_adapter(client, run, console=console))
    run.version_id = _register(run)
    run.save()
    write_text_atomic(Path(run.run_dir) / "run.json", json.dumps({
        "backend": "together", "job_id": run.job_id, "base_model": run.model, "from_hf_model": run.from_hf_model,
        "dataset": run.dataset, "dataset_sha256": run.dataset_sha256, "examples": run.examples,
        "request": run.request, "notes": run.notes, "estimate": run.estimate, "adapter_dir": run.adapter_dir,
        "output_name": run.output_name, "version_id": run.version_id}, indent=1))
    return run


# --------------------------------------------------------------------------- entry points


def submit(client: Any, recipe: Recipe, dataset: Path, *, model: str, from_hf_model: str | None = None,
           suffix: str | None = None, output: Path | None = None, console: Console,
           max_price: float | None = None) -> TogetherRun:
    """Check, upload, estimate and create the job; the job id is on disk before this returns."""
    run_dir = Path(output or paths.runs_dir() / f"together-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.mkdir(parents=True, exist_ok=True)
    prepared = prepare_file(Path(dataset), run_dir / "together-train.jsonl")  # stops before any upload
    console.print(f"{prepared.examples} conversations checked against Together's rules"
                  + (f"; {prepared.skipped_fim} FIM rows left out (Together trains conversations; "
                     "FIM is trained by --backend local)" if prepared.skipped_fim else ""))
    limits = client.fine_tuning.model_limits(model_name=model)
    params, notes = hyperparameters(recipe, limits, prepared.examples)
    for note in notes:
        console.print(f"  [dim]{note}[/]")

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(TextColumn("uploading"), BarColumn(), DownloadColumn(), console=console) as progress:
        task = progress.add_task("upload", total=prepared.path.stat().st_size)
        uploaded = client.files.upload(file=prepared.path, purpose="fine-tune", check=True,
                                       progress_callback=lambda p: progress.update(task, completed=p.uploaded_bytes,
                                                                                   total=p.total_bytes))
    estimate = client.fine_tuning.estimate_price(training_file=uploaded.id, model=model,
                                                 n_epochs=params["n_epochs"], n_evals=0)
    estimate_d = estimate.to_dict() if hasattr(estimate, "to_dict") else dict(estimate)
    if estimate_d.get("estimation_available"):
        price = estimate_d.get("estimated_total_price")
        console.print(f"Together estimates ${price:.2f} for {estimate_d.get('estimated_train_token_count', 0):,.0f} "
                      "training tokens")
        if estimate_d.get("allowed_to_proceed") is False:
            raise TogetherTrainError(
                f"Together says the estimated ${price:.2f} exceeds your credit limit and balance "
                f"(limit ${estimate_d.get('user_limit') or 0:.2f}): add credits under Settings -> Billing at "
                "api.together.ai; nothing was started")
        if max_price is not None and price is not None and price > max_price:
            raise TogetherTrainError(f"the estimate ${price:.2f} is above --max-price ${max_price:.2f}; "
                                     "nothing was started")
    suffix = suffix or f"gerbil-{prepared.dataset_sha256[:8]}"
    job = client.fine_tuning.create(training_file=uploaded.id, model=model, from_hf_model=from_hf_model,
                                    suffix=suffix[:40], model_limits=limits, **params)
    run = TogetherRun(job.id, str(run_dir), model, from_hf_model, uploaded.id, str(dataset), prepared.dataset_sha256,
                      prepared.examples, prepared.skipped_fim, {**params, "suffix": suffix[:40]}, notes, estimate_d,
                      str(getattr(job.status, "value", job.status) or "pending"), created=time.time())
    run.save()  # before anything else can go wrong: the paid job is never lost
    console.print(f"Together job [bold]{job.id}[/] created (run folder {run_dir})")
    return run


def train(recipe: Recipe, dataset: Path, *, model: str, from_hf_model: str | None = None, suffix: str | None = None,
          output: Path | None = None, attach: str | None = None, base_url: str | None = None,
          poll_s: float = 10.0, console: Console | None = None, max_price: float | None = None) -> TogetherRun:
    """Train on Together (or re-attach to job ``attach``); return the finished run with its adapter registered."""
    import together

    from gerbil_lsp.trainer.dataset import DatasetError

    console = console or Console()
    if not attach:
        # Check the data before asking for a key: a broken dataset costs nothing.
        with tempfile.TemporaryDirectory() as tmp:
            prepare_file(Path(dataset), Path(tmp) / "check.jsonl")
    client = make_client(base_url)
    try:
        if attach:
            run = find_run(attach)
            if run is None:
                job = client.fine_tuning.retrieve(attach)
                run_dir = Path(output or paths.runs_dir() / f"together-{attach}")
                run_dir.mkdir(parents=True, exist_ok=True)
                run = TogetherRun(attach, str(run_dir), job.model or model, job.from_hf_model, created=time.time())
                run.save()
            console.print(f"Following Together job [bold]{run.job_id}[/] (run folder {run.run_dir})")
        else:
            console.print(f"Training on Together from [bold]{from_hf_model or model}[/]"
                          + ("" if from_hf_model else " (Qwen2.5-Coder-7B-Instruct is not fine-tunable on Together; "
                                                      "this is train.together_base_model, or pass --from-hf-model)"))
            run = submit(client, recipe, dataset, model=model, from_hf_model=from_hf_model, suffix=suffix,
                         output=output, console=console, max_price=max_price)
        return finish(client, run, console=console, poll_s=poll_s)
    except DatasetError:
        raise
    except together.TogetherError as exc:
        raise TogetherTrainError(explain(exc)) from None
    except ValueError as exc:  # the SDK's own parameter checks (batch size, ranges)
        raise TogetherTrainError(f"the Together SDK refused the parameters: {exc}") from None


def cancel(job_id: str, *, base_url: str | None = None) -> str:
    import together

    client = make_client(base_url)
    try:
        return str(client.fine_tuning.cancel(job_id).status)
    except together.TogetherError as exc:
        raise TogetherTrainError(explain(exc)) from None


def run_from_cli(settings: Any, recipe: Recipe, dataset: Path, output: Path | None, *, attach: str | None = None,
                 from_hf_model: str | None = None, cancel_job: str | None = None, dry_run: bool = False,
                 console: Console | None = None) -> int:
    """`gerbil-lsp train --backend together ...`: the exit code, every failure said plainly."""
    from gerbil_lsp.trainer.dataset import DatasetError

    console = console or Console()
    model = settings.train.together_base_model
    try:
        if cancel_job:
            console.print(f"job {cancel_job}: {cancel(cancel_job)}")
            return 0
        if dry_run:
            with tempfile.TemporaryDirectory() as tmp:
                prepared = prepare_file(Path(dataset), Path(tmp) / "check.jsonl")
            console.print(f"Would upload {prepared.examples} conversations to Together and fine-tune "
                          f"{from_hf_model or model} with LoRA r={recipe.lora_r}, alpha={recipe.lora_alpha}, "
                          f"{max(1, math.ceil(recipe.epochs))} epochs (Qwen2.5-Coder-7B-Instruct is not fine-tunable "
                          "on Together; the base is train.together_base_model or --from-hf-model)")
            return 0
        run = train(recipe, dataset, model=model, from_hf_model=from_hf_model, output=output, attach=attach,
                    console=console, poll_s=settings.train.together_poll_s)
    except (DatasetError, TogetherTrainError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    console.print(f"adapter: {run.adapter_dir}\nmodel version: {run.version_id}  (serve it: gerbil-lsp deploy "
                  f"together --version {run.version_id}, or export it for Ollama)")
    return 0
