"""Local LoRA training with transformers + peft + trl's SFTTrainer (CUDA, MPS or CPU).

Checkpoints every epoch (``--resume`` continues from the last one), shows a rich
progress bar with loss and ETA, and leaves a run record (settings, dataset hash,
metrics, versions, device) and a loss-curve PNG in the run's folder. Heavy
libraries are imported here, lazily, so the core install never needs them.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic
from gerbil_lsp.trainer.dataset import load_training_texts
from gerbil_lsp.trainer.recipe import Recipe


@dataclass
class RunRecord:
    run_dir: str
    adapter_dir: str
    base_model: str
    dataset: str
    dataset_sha256: str
    device: str
    recipe: dict
    versions: dict
    examples: int
    seconds: float = 0.0
    losses: list[tuple[int, float]] = field(default_factory=list)
    tokens_per_second: float | None = None
    loss_mode: str = "full sequence (chat template rendered as text; FIM rows as raw text)"
    engine: str = "peft"


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _versions() -> dict:
    import peft
    import torch
    import transformers
    import trl

    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "trl": trl.__version__, "python": platform.python_version()}


def _progress_callback():
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.progress = Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                     TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn())
            self.progress.start()
            self.task = self.progress.add_task("train", total=state.max_steps, loss="-")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.progress.update(self.task, loss=f"{logs['loss']:.4f}")

        def on_step_end(self, args, state, control, **kwargs):
            self.progress.update(self.task, completed=state.global_step)

        def on_train_end(self, args, state, control, **kwargs):
            self.progress.stop()

    return RichProgress()


def loss_plot(losses: list[tuple[int, float]], path: Path) -> Path | None:
    if not losses:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([s for s, _ in losses], [loss for _, loss in losses], marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("LoRA training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def base_location(base_model: str) -> tuple[str, dict]:
    """(folder or id, extra from_pretrained arguments): a ``.gguf`` base is dequantized by transformers."""
    path = Path(base_model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise RuntimeError(f"base model {path}: no such GGUF file")
        return str(path.parent), {"gguf_file": path.name}
    return base_model, {}


def train_local(recipe: Recipe, dataset: Path, output: Path | None = None, *, resume: bool = False,
                progress: bool = True) -> RunRecord:
    """Train a LoRA adapter on ``dataset`` (our `data build` output folder or one JSONL file)."""
    from gerbil_lsp.trainer import engine as engines

    engine = engines.choose_engine(recipe.engine)
    if engine == "unsloth":  # Unsloth patches transformers and trl: it is imported before them
        from gerbil_lsp.core.settings import TrainSettings

        base = engines.unsloth_base(recipe.base_model, recipe.unsloth_base_model, TrainSettings().base_model)
        model, tokenizer = engines.load_with_unsloth(
            base, max_length=recipe.max_length, lora_r=recipe.lora_r, lora_alpha=recipe.lora_alpha,
            lora_dropout=recipe.lora_dropout, target_modules=list(recipe.target_modules), seed=recipe.seed)
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    output = Path(output or paths.runs_dir() / f"train-{time.strftime('%Y%m%d-%H%M%S')}")
    if engine == "peft":
        model, tokenizer = _load_for_peft(recipe.base_model)
    texts, dataset_hash = load_training_texts(Path(dataset), tokenizer)  # fails before any compute
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    config = SFTConfig(
        output_dir=str(output / "checkpoints"),
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps,
        learning_rate=recipe.learning_rate,
        per_device_train_batch_size=recipe.batch_size,
        gradient_accumulation_steps=recipe.grad_accum,
        warmup_steps=recipe.warmup_steps,
        max_length=recipe.max_length,
        packing=recipe.packing,
        seed=recipe.seed,
        optim=engines.optimizer(),
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        save_strategy="epoch",
        logging_steps=1,
        report_to=[],
        dataset_text_field="text",
        disable_tqdm=True,
        use_cpu=device_name() == "cpu",
    )
    lora = None if engine == "unsloth" else LoraConfig(  # Unsloth's model carries its LoRA already
        r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout, bias="none",
        target_modules=list(recipe.target_modules), task_type="CAUSAL_LM")
    losses: list[tuple[int, float]] = []
    callbacks = [_LossRecorder(losses)] + ([_progress_callback()] if progress and engines.is_main_process() else [])
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_dict({"text": texts}),
                         processing_class=tokenizer, peft_config=lora, callbacks=callbacks)
    started = time.perf_counter()
    try:
        result = trainer.train(resume_from_checkpoint=True if resume and _has_checkpoint(output) else None)
    except torch.OutOfMemoryError:
        raise RuntimeError("out of memory: lower train.batch_size (raise train.grad_accum to keep the "
                           "effective batch) or train.max_length") from None
    seconds = time.perf_counter() - started
    adapter_dir = output / "adapter"
    trainer.save_model(str(adapter_dir))
    tokens = int(result.metrics.get("train_tokens", 0)) or sum(len(tokenizer(t).input_ids) for t in texts)
    record = RunRecord(str(output), str(adapter_dir), recipe.base_model, str(dataset), dataset_hash, device_name(),
                       recipe.to_dict(), _versions(), len(texts), round(seconds, 2), losses,
                       round(tokens * recipe.epochs / seconds, 1) if seconds and recipe.max_steps <= 0 else None,
                       engine=engine)
    write_text_atomic(output / "run.json", json.dumps(asdict(record), indent=1))
    loss_plot(losses, output / "loss.png")
    return record


def _load_for_peft(base_model: str):
    """(model, tokenizer) for transformers + peft: bf16 on GPUs that have it, else float32 (GGUFs dequantized)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where, gguf = base_location(base_model)
    tokenizer = AutoTokenizer.from_pretrained(where, **gguf)
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.bfloat16 if bf16 else torch.float32, **gguf)
    if gguf:  # transformers dequantized the GGUF to float32 but still calls it quantized, which bars training
        model.hf_quantizer = None
        model.is_quantized = False
        model.config.__dict__.pop("quantization_config", None)
    return model, tokenizer


class _LossRecorder:
    def __new__(cls, losses):
        from transformers import TrainerCallback

        class Recorder(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    losses.append((state.global_step, float(logs["loss"])))

        return Recorder()


def _has_checkpoint(output: Path) -> bool:
    return any((output / "checkpoints").glob("checkpoint-*"))
