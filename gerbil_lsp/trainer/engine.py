"""Which engine trains the LoRA, and how several GPUs are used.

* ``unsloth`` -- when CUDA and the ``unsloth`` package are present (``pip install
  gerbil-lsp[train,unsloth]``): the 4-bit base ``train.unsloth_base_model``,
  ``FastLanguageModel.get_peft_model(..., use_gradient_checkpointing="unsloth")``,
  then the same SFTTrainer. We only ever load, wrap and train with Unsloth: the
  adapter is saved with PEFT's ``save_pretrained`` and exported by our own
  exporter, never by Unsloth's ``save_pretrained_gguf``/``save_pretrained_merged``,
  which run ``apt-get`` as root and clone and build llama.cpp from the network.
  ``UNSLOTH_DISABLE_AUTO_UPDATES`` stops it pip-installing at import,
  ``UNSLOTH_DISABLE_STATISTICS`` its network ping, and ``UNSLOTH_COMPILE_LOCATION``
  keeps its compiled kernels in our cache dir.
* ``peft`` -- transformers + peft + trl on CUDA, MPS or CPU (the base as given).

More than one GPU: ``gerbil-lsp train --gpus N`` re-runs the same command under
``accelerate launch`` (DDP; ``--fsdp`` shards a base too big for one card). Unsloth's
open-source build trains on one GPU, so a multi-GPU run uses the ``peft`` engine.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ENGINES = ("auto", "unsloth", "peft")
#: Environment for Unsloth: no usage statistics over the network, compiled kernels cached under our dirs.
UNSLOTH_ENV = {"UNSLOTH_DISABLE_STATISTICS": "1", "UNSLOTH_DISABLE_AUTO_UPDATES": "1"}


class EngineError(RuntimeError):
    """An engine that was asked for and cannot run here, with what to install."""


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def distributed() -> bool:
    """Running as one of several processes (under accelerate launch / torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def choose_engine(requested: str = "auto") -> str:
    """``unsloth`` where it can run (CUDA, installed, a single process), else ``peft``."""
    if requested not in ENGINES:
        raise EngineError(f"unknown engine {requested!r}: use one of {', '.join(ENGINES)}")
    can_unsloth = cuda_available() and unsloth_installed() and not distributed()
    if requested == "unsloth" and not can_unsloth:
        why = ("no CUDA GPU here" if not cuda_available() else
               "unsloth is not installed (pip install 'gerbil-lsp[train,unsloth]')" if not unsloth_installed() else
               "Unsloth trains on one GPU; multi-GPU runs use --engine peft")
        raise EngineError(f"--engine unsloth cannot run: {why}")
    if requested == "peft":
        return "peft"
    return "unsloth" if can_unsloth else "peft"


def unsloth_base(recipe_base: str, unsloth_base_model: str, default_base: str) -> str:
    """The user's own base when they chose one; otherwise Unsloth's 4-bit build of the default base."""
    return unsloth_base_model if recipe_base == default_base and unsloth_base_model else recipe_base


def load_with_unsloth(base: str, *, max_length: int, lora_r: int, lora_alpha: int, lora_dropout: float,
                      target_modules: list[str], seed: int):
    """(model with LoRA, tokenizer) through Unsloth; import it before trl so its patches apply."""
    from gerbil_lsp.core import paths

    for key, value in {**UNSLOTH_ENV, "UNSLOTH_COMPILE_LOCATION": str(paths.cache_dir() / "unsloth")}.items():
        os.environ.setdefault(key, value)
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(model_name=base, max_seq_length=max_length, dtype=None,
                                                         load_in_4bit=True)
    model = FastLanguageModel.get_peft_model(model, r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                                             bias="none", target_modules=target_modules,
                                             use_gradient_checkpointing="unsloth", random_state=seed)
    return model, tokenizer


def optimizer() -> str:
    """8-bit AdamW where bitsandbytes can run it (CUDA), plain AdamW elsewhere."""
    if importlib.util.find_spec("bitsandbytes") is not None and cuda_available():
        return "adamw_8bit"
    return "adamw_torch"


def accelerate_command(train_args: list[str], gpus: int, *, fsdp: bool = False) -> list[str]:
    """The ``accelerate launch`` command that runs ``gerbil-lsp train`` once per GPU."""
    launcher = Path(sys.executable).with_name("accelerate")
    command = [str(launcher) if launcher.exists() else "accelerate", "launch", "--multi_gpu",
               "--num_processes", str(gpus)]
    if fsdp:
        command += ["--use_fsdp", "--fsdp_sharding_strategy", "FULL_SHARD",
                    "--fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP"]
    return command + ["-m", "gerbil_lsp", "train", "--engine", "peft", *train_args]
