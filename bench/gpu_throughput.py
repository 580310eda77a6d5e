"""GPU training throughput: our trainer (Unsloth engine) vs plain transformers + peft, same run.

    python bench/gpu_throughput.py [--steps 20] [--max-length 4096] [--layers 28] [--workdir DIR]

A CUDA machine only. The model is Qwen2.5-Coder-7B-shaped (its config: hidden 3584, 28 layers,
28 heads / 4 KV heads, intermediate 18944, vocab 152064) with random weights built here, so
nothing is downloaded; `--layers` shrinks it for a smaller card. Both runs train a LoRA r=16 on
all projections over packed 4096-token rows for --steps steps, one after the other in fresh
processes, and report tokens/s and peak GPU memory. Target: ours >= 2x the tokens/s at <= 0.6x
the memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

TEXT = "(import :std/iter)\n(def (count-keys table)\n  (for/fold ((n 0)) ((k (in-hash-keys table))) (+ n 1)))\n"


def build_model(folder: Path, layers: int) -> Path:
    """A Qwen2.5-Coder-7B-shaped model with random bf16 weights, and a byte-level tokenizer for it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    if (folder / "config.json").is_file():
        return folder
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator([TEXT] * 50, trainers.BpeTrainer(
        vocab_size=1000, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.save_pretrained(folder)
    config = Qwen2Config(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=layers,
                         num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768,
                         rope_theta=1e6, tie_word_embeddings=False, torch_dtype="bfloat16")
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return folder


def write_dataset(folder: Path, rows: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"prompt": "<|fim_prefix|>" + TEXT * 40, "completion": "<|fim_middle|>(+ n 1)"})
    (folder / "train.fim.jsonl").write_text((line + "\n") * rows)
    return folder


def run_one(engine: str, model: Path, dataset: Path, steps: int, max_length: int, out: Path) -> dict:
    """One training run in this process; returns tokens/s and peak memory."""
    import torch

    from gerbil_lsp.trainer.local import train_local
    from gerbil_lsp.trainer.recipe import Recipe

    torch.cuda.reset_peak_memory_stats()
    recipe = Recipe(str(model), max_length=max_length, max_steps=steps, batch_size=2, grad_accum=4, warmup_steps=0,
                    engine=engine)
    started = time.perf_counter()
    record = train_local(recipe, dataset, out / engine, progress=False)
    seconds = time.perf_counter() - started
    tokens = steps * recipe.batch_size * recipe.grad_accum * max_length  # packed rows are full
    return {"engine": engine, "seconds": round(seconds, 1), "train_seconds": record.seconds,
            "tokens_per_s": round(tokens / record.seconds, 1),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--layers", type=int, default=28)
    parser.add_argument("--workdir", type=Path, default=Path("bench-out/gpu-throughput"))
    parser.add_argument("--one", choices=["unsloth", "peft"], help=argparse.SUPPRESS)  # a child run
    args = parser.parse_args()
    model, dataset = args.workdir / "model", args.workdir / "dataset"
    if args.one:
        print(json.dumps(run_one(args.one, model, dataset, args.steps, args.max_length, args.workdir)))
        return

    import torch

    if not torch.cuda.is_available():
        sys.exit("bench/gpu_throughput.py needs a CUDA GPU")
    build_model(model, args.layers)
    write_dataset(dataset, rows=args.steps * 8 * 2)
    results = []
    for engine in ("peft", "unsloth"):  # fresh processes: Unsloth patches transformers for good
        done = subprocess.run([sys.executable, __file__, "--one", engine, "--steps", str(args.steps),
                               "--max-length", str(args.max_length), "--workdir", str(args.workdir)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{engine}: failed\n{done.stderr[-2000:]}")
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for row in results:
        print(f"{row['engine']:8} {row['tokens_per_s']:>10.1f} tokens/s   peak {row['peak_gib']:.2f} GiB   "
              f"({row['train_seconds']:.0f} s training)")
    if len(results) == 2:
        plain, ours = results
        print(f"ours vs plain: {ours['tokens_per_s'] / plain['tokens_per_s']:.2f}x tokens/s at "
              f"{ours['peak_gib'] / plain['peak_gib']:.2f}x the memory (target >= 2x at <= 0.6x)")


if __name__ == "__main__":
    main()
