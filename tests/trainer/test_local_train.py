"""Local LoRA training on a tiny Qwen2 built from a config (CPU, seconds): the real peft + trl path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gerbil_lsp.core.settings import TrainSettings
from gerbil_lsp.trainer import DatasetError, Recipe, load_training_texts, train_local
from tests.trainer.tiny_qwen import build_tiny_qwen

CHAT = {"messages": [{"role": "system", "content": "You know Gerbil."},
                     {"role": "user", "content": "How do I look up a key?"},
                     {"role": "assistant", "content": "(hash-get table key) returns #f when missing"}]}
SHAREGPT = {"conversations": [{"from": "human", "value": "Square a number?"},
                              {"from": "gpt", "value": "(def (square x) (* x x))"}]}
FIM = {"prompt": "<|fim_prefix|>(def (square x) (<|fim_suffix|> x x))<|fim_middle|>", "completion": "*<|endoftext|>"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


def write_dataset(folder, chat_rows, fim_rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.messages.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat_rows))
    (folder / "train.fim.jsonl").write_text("".join(json.dumps(r) + "\n" for r in fim_rows))
    return folder


def test_recipe_defaults_are_the_proven_recipe():
    recipe = Recipe.from_settings(TrainSettings(), epochs=1)
    assert (recipe.lora_r, recipe.lora_alpha, recipe.lora_dropout, recipe.learning_rate) == (16, 32, 0.0, 2e-4)
    assert (recipe.batch_size, recipe.grad_accum, recipe.warmup_steps, recipe.max_length) == (2, 4, 10, 4096)
    assert recipe.epochs == 1 and "down_proj" in recipe.target_modules


def test_sharegpt_roles_are_not_dropped_by_the_template(tiny, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    (tmp_path / "train.sharegpt.jsonl").write_text(json.dumps(SHAREGPT) + "\n")
    texts, _ = load_training_texts(tmp_path / "train.sharegpt.jsonl", tokenizer)
    assert "<|im_start|>user\nSquare a number?" in texts[0]
    assert "<|im_start|>assistant\n(def (square x) (* x x))" in texts[0]


def test_broken_dataset_stops_before_training_with_line_numbers(tiny, tmp_path):
    folder = write_dataset(tmp_path / "ds", [CHAT], [FIM])
    with (folder / "train.fim.jsonl").open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(DatasetError, match=r"train\.fim\.jsonl:2"):
        train_local(Recipe(str(tiny), max_steps=1), folder, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_trains_checkpoints_records_and_resumes(tiny, tmp_path):
    folder = write_dataset(tmp_path / "ds", [CHAT] * 6, [FIM] * 6)
    recipe = Recipe(str(tiny), epochs=2, batch_size=2, grad_accum=1, warmup_steps=0, max_length=128, packing=False,
                    target_modules=("q_proj", "v_proj"))
    record = train_local(recipe, folder, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert (run / "adapter" / "adapter_config.json").is_file()
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in (run / "checkpoints").glob("checkpoint-*")) == ["checkpoint-12", "checkpoint-6"]
    saved = json.loads((run / "run.json").read_text())
    assert saved["dataset_sha256"] == record.dataset_sha256 and saved["examples"] == 12
    assert saved["device"] == "cpu" and "trl" in saved["versions"]
    assert len(record.losses) == 12 and (run / "loss.png").stat().st_size > 1000
    adapter = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 16 and adapter["lora_alpha"] == 32

    more = Recipe(**{**recipe.to_dict(), "epochs": 3})
    resumed = train_local(more, folder, run, resume=True, progress=False)
    assert [step for step, _ in resumed.losses] == list(range(13, 19))  # continued after step 12


def test_cli_dry_run_says_what_and_how_long_then_trains(tiny, tmp_path):
    import os
    import subprocess
    import sys

    folder = write_dataset(tmp_path / "ds", [CHAT] * 4, [FIM] * 4)
    env = {**os.environ, "COLUMNS": "200"}
    base = [sys.executable, "-m", "gerbil_lsp", "train", "--dataset", str(folder), "--base-model", str(tiny)]
    plan = subprocess.run([*base, "--dry-run"], capture_output=True, text=True, env=env, timeout=300)
    assert plan.returncode == 0, plan.stderr
    assert "over 8 examples" in plan.stdout and "on cpu" in plan.stdout and "h at ~" in plan.stdout
    assert not (tmp_path / "run").exists()
    done = subprocess.run([*base, "--max-steps", "2", "-o", str(tmp_path / "run")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    assert "model version: v" in done.stdout  # every trained adapter becomes a version
    from gerbil_lsp.trainer import versions

    [version] = versions.list_versions()
    assert version.base == str(tiny) and version.dataset_sha256 and version.id in done.stdout
    assert (Path(version.path) / "adapter_model.safetensors").is_file()
