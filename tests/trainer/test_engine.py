"""Engine choice (Unsloth on CUDA, else peft+trl), Unsloth's switches, and `train --gpus N` under accelerate.

No GPU here: Unsloth itself cannot run, so its call is checked against a stand-in
module that records the calls the documented API receives (FastLanguageModel.
from_pretrained / get_peft_model); the real run is the GPU benchmark's job.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from gerbil_lsp.trainer import engine


def test_this_cpu_machine_trains_with_peft_and_refuses_unsloth_with_the_reason():
    assert engine.choose_engine("auto") == "peft"
    assert engine.choose_engine("peft") == "peft"
    with pytest.raises(engine.EngineError, match="no CUDA GPU here"):
        engine.choose_engine("unsloth")
    with pytest.raises(engine.EngineError, match="unknown engine 'fast'"):
        engine.choose_engine("fast")


def test_auto_picks_unsloth_on_one_cuda_gpu_and_peft_under_ddp(monkeypatch):
    monkeypatch.setattr(engine, "cuda_available", lambda: True)
    monkeypatch.setattr(engine, "unsloth_installed", lambda: True)
    assert engine.choose_engine("auto") == "unsloth"
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert engine.choose_engine("auto") == "peft"
    with pytest.raises(engine.EngineError, match="one GPU"):
        engine.choose_engine("unsloth")


def test_unsloth_uses_its_4bit_base_only_for_the_default_base():
    default = "Qwen/Qwen2.5-Coder-7B-Instruct"
    four_bit = "unsloth/Qwen2.5-Coder-7B-Instruct-bnb-4bit"
    assert engine.unsloth_base(default, four_bit, default) == four_bit
    assert engine.unsloth_base("/models/my-base", four_bit, default) == "/models/my-base"


def test_unsloth_is_loaded_with_the_recipe_and_told_not_to_install_or_phone_home(monkeypatch):
    calls = {}

    class FastLanguageModel:
        @staticmethod
        def from_pretrained(**kwargs):
            calls["load"] = kwargs
            calls["env"] = {k: os.environ.get(k) for k in (*engine.UNSLOTH_ENV, "UNSLOTH_COMPILE_LOCATION")}
            return "model", "tokenizer"

        @staticmethod
        def get_peft_model(model, **kwargs):
            calls["peft"] = kwargs
            return "peft-model"

    monkeypatch.setitem(sys.modules, "unsloth", types.SimpleNamespace(FastLanguageModel=FastLanguageModel))
    for key in engine.UNSLOTH_ENV:
        monkeypatch.delenv(key, raising=False)
    model, tokenizer = engine.load_with_unsloth("unsloth/base-bnb-4bit", max_length=4096, lora_r=16, lora_alpha=32,
                                                lora_dropout=0.0, target_modules=["q_proj"], seed=42)
    assert (model, tokenizer) == ("peft-model", "tokenizer")
    assert calls["load"] == {"model_name": "unsloth/base-bnb-4bit", "max_seq_length": 4096, "dtype": None,
                             "load_in_4bit": True}
    assert calls["peft"]["use_gradient_checkpointing"] == "unsloth" and calls["peft"]["r"] == 16
    assert calls["env"]["UNSLOTH_DISABLE_AUTO_UPDATES"] == "1" and calls["env"]["UNSLOTH_DISABLE_STATISTICS"] == "1"
    assert calls["env"]["UNSLOTH_COMPILE_LOCATION"].startswith(os.environ["GERBIL_LSP_HOME"])


def test_train_on_several_gpus_reruns_itself_under_accelerate_launch(tmp_path):
    command = engine.accelerate_command(["--dataset", "ds"], 4, fsdp=True)
    assert command[1:5] == ["launch", "--multi_gpu", "--num_processes", "4"] and "--use_fsdp" in command
    assert command[-6:] == ["gerbil_lsp", "train", "--engine", "peft", "--dataset", "ds"]
    done = subprocess.run([sys.executable, "-m", "gerbil_lsp", "train", "--gpus", "2", "--dataset", str(tmp_path),
                           "--max-steps", "5", "--dry-run"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    shown = done.stdout.replace("\n", " ")
    assert "launch --multi_gpu --num_processes 2 -m gerbil_lsp train --engine peft --dataset" in shown
    assert "--max-steps 5" in shown and "--gpus" not in shown.split("running:")[1]
