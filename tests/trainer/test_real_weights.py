"""The exported GGUF adapter on real weights: llama.cpp (with ``--lora``) must compute what PEFT computes.

SmolLM2-135M-Instruct is a llama-architecture model, so this also proves the q/k row
permutation: without it llama.cpp's change in logits has nothing to do with PEFT's.
"""

from __future__ import annotations

import numpy as np
import pytest

from gerbil_lsp.trainer import export
from tests.real_weights import smollm2_gguf

pytestmark = pytest.mark.slow
pytest.importorskip("llama_cpp", reason="llama-cpp-python (the [local] extra) is not installed")
pytest.importorskip("peft", reason="the [train] extra is not installed")

CODE = "(def (square x) (* x x))\n(def (cube x)"


@pytest.fixture(scope="module")
def peft_on_smollm2(tmp_path_factory):
    """A LoRA on q/k (where the permutation matters) with trained-sized weights, and PEFT's logits."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    torch.manual_seed(0)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj"]))
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.1)
    folder = tmp_path_factory.mktemp("smol") / "adapter"
    model.save_pretrained(folder)
    ids = tokenizer(CODE).input_ids
    with torch.no_grad():
        tuned = model(torch.tensor([ids])).logits[0].numpy()
        with model.disable_adapter():
            plain = model(torch.tensor([ids])).logits[0].numpy()
    return folder, ids, tuned, plain


def llama_logits(ids, lora=None):
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_gguf()), lora_path=str(lora) if lora else None, logits_all=True,
                n_ctx=256, verbose=False)
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)])


def corr(x, y) -> float:
    return float(np.corrcoef(x.ravel(), y.ravel())[0, 1])


def test_llama_cpp_with_the_exported_adapter_computes_what_peft_does(peft_on_smollm2, tmp_path):
    folder, ids, tuned, plain = peft_on_smollm2
    gguf, pairs = export.export_gguf_adapter(folder, tmp_path / "adapter.gguf", smollm2_gguf())
    assert pairs == 2 * 30  # q and k in each of SmolLM2's 30 blocks
    with_adapter, without = llama_logits(ids, gguf), llama_logits(ids)
    assert corr(with_adapter, tuned) > 0.995
    assert (with_adapter.argmax(-1) == tuned.argmax(-1)).mean() > 0.9
    # the adapter's effect, as llama.cpp applies it, is PEFT's effect (measured 0.89; unpermuted q/k: -0.02)
    assert corr(with_adapter - without, tuned - plain) > 0.7


def test_without_the_llama_permutation_the_effect_is_lost(peft_on_smollm2, tmp_path, monkeypatch):
    """The control for the test above: the check can fail, and fails for the bug it is there for."""
    folder, ids, tuned, plain = peft_on_smollm2
    monkeypatch.setattr(export, "PERMUTED_QK", set())
    gguf, _ = export.export_gguf_adapter(folder, tmp_path / "unpermuted.gguf", smollm2_gguf())
    assert corr(llama_logits(ids, gguf) - llama_logits(ids), tuned - plain) < 0.3


def test_export_command_for_a_gguf_base_writes_a_modelfile_from_that_file(peft_on_smollm2, tmp_path):
    from typer.testing import CliRunner

    from gerbil_lsp.cli import app

    folder = peft_on_smollm2[0]
    result = CliRunner().invoke(app, ["export", str(folder), "--base", str(smollm2_gguf()), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    modelfile = (tmp_path / "Modelfile").read_text().splitlines()
    assert modelfile[:2] == [f"FROM {smollm2_gguf()}", "ADAPTER ./adapter.gguf"]  # Ollama imports a GGUF base
