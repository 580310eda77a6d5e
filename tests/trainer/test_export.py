"""`gerbil-lsp export`: PEFT LoRA -> GGUF adapter laid out as llama.cpp's loader expects, plus the Modelfile.

The tiny-Qwen2 tests read the file back with the ``gguf`` library's reader; the
real-weights test lives in test_real_weights.py (llama.cpp loads the adapter).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gerbil_lsp.trainer import export, modelfile
from tests.trainer.tiny_qwen import build_tiny_qwen

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


def make_adapter(base, folder, **lora):
    """A PEFT LoRA on ``base`` with non-zero B (as after training), saved the way training saves it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, **lora))
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.05)
    model.save_pretrained(folder)
    return folder


def read_gguf(path):
    from gguf import GGUFReader

    reader = GGUFReader(path)
    fields = {key: reader.get_field(key).contents() for key in reader.fields if not key.startswith("GGUF.")}
    tensors = {t.name: np.array(t.data).reshape([int(d) for d in reversed(t.shape)]) for t in reader.tensors}
    return fields, tensors


def test_adapter_becomes_a_gguf_lora_that_llama_cpp_reads(tiny, tmp_path):
    from safetensors.numpy import load_file

    adapter = make_adapter(tiny, tmp_path / "adapter")
    path, pairs = export.export_gguf_adapter(adapter, tmp_path / "out" / "adapter.gguf")
    fields, tensors = read_gguf(path)
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["general.architecture"] == "qwen2"  # llama.cpp refuses an adapter for another architecture
    assert fields["adapter.lora.alpha"] == pytest.approx(8.0)
    assert pairs == 2 * len(TARGETS)  # two blocks in the tiny model
    assert sorted(n for n in tensors if n.startswith("blk.0.")) == sorted(
        f"blk.0.{m}.weight.lora_{ab}" for m in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                                                 "ffn_down") for ab in "ab")
    peft = load_file(str(adapter / "adapter_model.safetensors"))
    a = peft["base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight"]
    b = peft["base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight"]
    # the shapes llama.cpp checks: A is r x in, B is out x r (Qwen2: no q/k permutation)
    np.testing.assert_array_equal(tensors["blk.1.attn_k.weight.lora_a"], a)
    np.testing.assert_array_equal(tensors["blk.1.attn_k.weight.lora_b"], b)
    assert b.shape == (16, 4) and a.shape == (4, 32)


def test_rslora_scale_is_folded_into_alpha(tiny, tmp_path):
    adapter = make_adapter(tiny, tmp_path / "adapter", use_rslora=True)
    fields, _ = read_gguf(export.export_gguf_adapter(adapter, tmp_path / "a.gguf")[0])
    assert fields["adapter.lora.alpha"] == pytest.approx(8.0 * 2.0)  # alpha * sqrt(r=4): llama.cpp divides by r


def test_llama_bases_get_q_and_k_rows_in_llama_cpp_order():
    rows = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)  # 2 heads x head_dim 4
    permuted = export._permute_rows(rows, heads=2)
    # per head, the two rotary halves interleave: rows 0,2,1,3 | 4,6,5,7
    assert permuted[:, 0].tolist() == [0, 6, 3, 9, 12, 18, 15, 21]


def test_bad_adapters_are_refused_with_what_to_do(tiny, tmp_path):
    with pytest.raises(export.ExportError, match="not a PEFT adapter folder"):
        export.export_gguf_adapter(tmp_path, tmp_path / "x.gguf")
    adapter = make_adapter(tiny, tmp_path / "dora", use_dora=True)
    with pytest.raises(export.ExportError, match="DoRA"):
        export.export_gguf_adapter(adapter, tmp_path / "x.gguf")
    plain = make_adapter(tiny, tmp_path / "plain")
    config = json.loads((tiny / "config.json").read_text())
    config["num_hidden_layers"] = 1  # a base with fewer blocks than the adapter: not the base it was trained on
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps(config))
    with pytest.raises(export.ExportError, match="is --base the model this adapter was trained on"):
        export.export_gguf_adapter(plain, tmp_path / "x.gguf", tmp_path / "other")
    (plain / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(export.ExportError, match="unreadable"):
        export.export_gguf_adapter(plain, tmp_path / "x.gguf")
    assert not list(tmp_path.glob("*.gguf")) and not list(tmp_path.glob(".x.gguf*"))  # nothing half-written


def test_modelfile_has_base_adapter_fim_template_and_stops():
    text = modelfile.render("qwen2.5-coder:7b-instruct", "./adapter.gguf", num_ctx=4096)
    lines = text.splitlines()
    assert lines[:2] == ["FROM qwen2.5-coder:7b-instruct", "ADAPTER ./adapter.gguf"]
    assert "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>" in text
    assert "<|im_start|>assistant" in text and 'SYSTEM """You are a Gerbil Scheme expert' in text
    assert "PARAMETER temperature 0.2" in lines and "PARAMETER num_ctx 4096" in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines and 'PARAMETER stop "<|fim_prefix|>"' in lines
    blocks = text.count("{{ if") + text.count("{{- if") + text.count("{{- range")
    assert blocks == text.count("{{ end }}") + text.count("{{- end }}")  # each closed, or Go cannot parse it


def test_export_command_writes_adapter_and_modelfile(tiny, tmp_path, monkeypatch):
    from gerbil_lsp.cli import app

    monkeypatch.setenv("GERBIL_LSP_HOME", str(tmp_path / "home"))
    adapter = make_adapter(tiny, tmp_path / "adapter")
    result = CliRunner().invoke(app, ["export", str(adapter), "--ollama-base", "qwen2.5-coder:0.5b"])
    assert result.exit_code == 0, result.output
    assert (adapter / "export" / "adapter.gguf").is_file()
    text = (adapter / "export" / "Modelfile").read_text()
    assert text.startswith("FROM qwen2.5-coder:0.5b\nADAPTER ./adapter.gguf\n")
    missing = CliRunner().invoke(app, ["export", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "not a PEFT adapter folder" in " ".join(missing.output.split())


def test_merged_model_and_llama_cpp_tools_when_found(tiny, tmp_path, monkeypatch):
    """The merge is real (PEFT merge_and_unload); llama.cpp's converter is a stand-in script here
    (no llama.cpp checkout on this machine) that records how it was called and writes the file."""
    import sys

    from gerbil_lsp.trainer.export import ExportResult, convert_merged, export_merged

    adapter = make_adapter(tiny, tmp_path / "adapter")
    merged = export_merged(adapter, str(tiny), tmp_path / "out" / "merged")
    assert (merged / "config.json").is_file() and list(merged.glob("*.safetensors"))
    assert (merged / "tokenizer.json").is_file()

    home = tmp_path / "llama.cpp"
    home.mkdir()
    (home / "convert_hf_to_gguf.py").write_text(
        "import sys, pathlib\nargs = sys.argv[1:]\n"
        "pathlib.Path(args[args.index('--outfile') + 1]).write_text(' '.join(args))\n")
    monkeypatch.setenv("LLAMA_CPP_DIR", str(home))
    monkeypatch.setenv("PYTHON", sys.executable)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no llama-quantize anywhere
    result = ExportResult()
    convert_merged(merged, tmp_path / "out", "q4_k_m", result)
    assert result.merged_gguf.read_text() == f"{merged} --outfile {result.merged_gguf} --outtype f16"
    assert result.quantized_gguf is None and "llama-quantize was not found" in result.notes[0]

    monkeypatch.delenv("LLAMA_CPP_DIR")
    nothing = ExportResult()
    convert_merged(merged, tmp_path / "out", "q4_k_m", nothing)
    assert nothing.merged_gguf is None and "convert_hf_to_gguf.py was not found" in nothing.notes[0]
