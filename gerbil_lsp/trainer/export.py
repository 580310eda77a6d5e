"""PEFT adapter -> GGUF LoRA adapter (llama.cpp ``--lora``, Ollama ``ADAPTER``), merged model, Modelfile.

Ollama cannot import a Qwen2 safetensors adapter, and llama.cpp loads only GGUF
adapters, so the trained ``adapter_model.safetensors`` is rewritten with the
``gguf`` library the way llama.cpp's own converter lays it out:

* ``general.type = adapter``, ``adapter.type = lora``, ``adapter.lora.alpha``,
  and the base's ``general.architecture`` (llama.cpp refuses a mismatch);
* per target module two tensors, ``blk.N.attn_q.weight.lora_a`` (PEFT's
  ``lora_A``, shape r x in) and ``...lora_b`` (``lora_B``, out x r), named with
  gguf's tensor map for the base's architecture;
* for the llama architecture, the rows of ``lora_b`` on q/k are permuted the way
  the base converter permutes q/k weights for llama.cpp's rope layout (Qwen2
  needs no permutation);
* rsLoRA's scale (alpha / sqrt r) is folded into the alpha llama.cpp reads
  (it scales by alpha / r).

The merged model is PEFT's ``merge_and_unload`` saved as f16 safetensors; turning
it into a GGUF (and q4_k_m) needs llama.cpp's converter and quantizer, which are
found on PATH or in ``LLAMA_CPP_DIR`` and never downloaded.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gerbil_lsp.core.atomic import atomic_path
from gerbil_lsp.trainer import modelfile

#: Hugging Face ``model_type`` -> llama.cpp architecture name, for the bases we train.
ARCHITECTURES = {"qwen2": "qwen2", "llama": "llama", "mistral": "llama", "qwen3": "qwen3"}
#: Architectures whose q/k weights llama.cpp's converter permutes (rope layout).
PERMUTED_QK = {"llama"}


class ExportError(RuntimeError):
    """An adapter or base that cannot be exported, said with what to do."""


@dataclass(frozen=True)
class BaseShape:
    """What the export needs to know about the base model."""

    architecture: str  # llama.cpp's name: qwen2, llama, ...
    blocks: int
    heads: int
    kv_heads: int


@dataclass
class ExportResult:
    gguf_adapter: Path | None = None
    modelfile: Path | None = None
    merged_dir: Path | None = None
    merged_gguf: Path | None = None
    quantized_gguf: Path | None = None
    tensors: int = 0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the base model


def base_shape(base: str | Path) -> BaseShape:
    """Read the base's architecture and head counts from a GGUF file or an HF folder/config."""
    path = Path(base)
    if path.is_file() and path.suffix == ".gguf":
        return _gguf_shape(path)
    config_file = path / "config.json" if path.is_dir() else path
    if config_file.is_file() and config_file.suffix == ".json":
        return _config_shape(json.loads(config_file.read_text(encoding="utf-8")), str(config_file))
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(str(base), local_files_only=True).to_dict()
    except Exception:  # noqa: BLE001 -- any failure means "not here": say what to pass
        raise ExportError(f"cannot read the base model {base!r} here: pass --base with the base's folder "
                          "(its config.json) or its GGUF file") from None
    return _config_shape(config, str(base))


def _config_shape(config: dict, where: str) -> BaseShape:
    model_type = config.get("model_type", "")
    if model_type not in ARCHITECTURES:
        raise ExportError(f"{where}: model_type {model_type!r} is not one we export ({', '.join(ARCHITECTURES)})")
    heads = int(config["num_attention_heads"])
    return BaseShape(ARCHITECTURES[model_type], int(config["num_hidden_layers"]), heads,
                     int(config.get("num_key_value_heads") or heads))


def _gguf_shape(path: Path) -> BaseShape:
    from gguf import GGUFReader

    reader = GGUFReader(path)

    def value(key: str):
        found = reader.get_field(key)
        if found is None:
            raise ExportError(f"{path}: no {key} in its metadata; is it a model GGUF?")
        return found.contents()

    arch = value("general.architecture")
    heads = int(value(f"{arch}.attention.head_count"))
    kv = reader.get_field(f"{arch}.attention.head_count_kv")
    return BaseShape(arch, int(value(f"{arch}.block_count")), heads, int(kv.contents()) if kv else heads)


# --------------------------------------------------------------------------- the GGUF adapter


def read_peft_adapter(adapter_dir: Path) -> tuple[dict, dict]:
    """(adapter_config, tensors as float32 numpy arrays) with the checks llama.cpp's loader needs."""
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    config_file = adapter_dir / "adapter_config.json"
    weights = adapter_dir / "adapter_model.safetensors"
    if not config_file.is_file() or not weights.is_file():
        raise ExportError(f"{adapter_dir}: not a PEFT adapter folder (expected adapter_config.json and "
                          "adapter_model.safetensors, as `gerbil-lsp train` writes them)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("peft_type", "LORA") != "LORA":
        raise ExportError(f"{config_file}: a {config.get('peft_type')} adapter; only LoRA exports to GGUF")
    if config.get("use_dora"):
        raise ExportError(f"{config_file}: DoRA adapters have no GGUF form; train with use_dora off")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ExportError(f"{config_file}: per-module rank/alpha patterns are not supported by GGUF adapters "
                          "(one alpha per file)")
    if config.get("modules_to_save"):
        raise ExportError(f"{config_file}: the adapter also saves whole modules ({config['modules_to_save']}); "
                          "a GGUF LoRA adapter holds only low-rank pairs: merge instead (--merged)")
    try:
        tensors = {name: array.astype("float32") for name, array in load_file(str(weights)).items()}
    except Exception as exc:  # noqa: BLE001 -- safetensors raises several kinds; all mean "unreadable"
        raise ExportError(f"{weights}: unreadable ({exc}); re-run the training's last save") from None
    return config, tensors


def _permute_rows(rows, heads: int):
    """llama.cpp's q/k row order for rope (the base converter's ``permute``), applied to lora_b."""
    out = rows.shape[0]
    return rows.reshape(heads, 2, out // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def _module_name(peft_name: str) -> tuple[str, str]:
    """``base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`` -> (HF weight name, "a")."""
    name = peft_name.removeprefix("base_model.model.")
    for marker, part in ((".lora_A.weight", "a"), (".lora_B.weight", "b")):
        if name.endswith(marker):
            return name[: -len(marker)] + ".weight", part
    raise ExportError(f"unexpected tensor {peft_name!r} in the adapter (not a lora_A/lora_B weight)")


def trained_base(adapter_dir: Path, config: dict) -> str:
    """The base the adapter was trained on: the run record beside it knows a GGUF base; else PEFT's config."""
    record = Path(adapter_dir).parent / "run.json"
    if record.is_file():
        try:
            return json.loads(record.read_text(encoding="utf-8"))["base_model"]
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
            pass
    return config.get("base_model_name_or_path") or ""


def export_gguf_adapter(adapter_dir: Path, output: Path, base: str | Path | None = None) -> tuple[Path, int]:
    """Write ``adapter_dir`` (PEFT LoRA) as a GGUF LoRA adapter at ``output``; (path, tensor pairs)."""
    import gguf

    config, tensors = read_peft_adapter(adapter_dir)
    shape = base_shape(base or trained_base(adapter_dir, config))
    arch = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == shape.architecture), None)
    if arch is None:
        raise ExportError(f"the gguf library does not know the architecture {shape.architecture!r}; upgrade gguf")
    name_map = gguf.get_tensor_name_map(arch, shape.blocks)
    rank = int(config["r"])
    alpha = float(config.get("lora_alpha", rank))
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # rsLoRA scales by alpha/sqrt(r); llama.cpp by alpha/r
    pairs: dict[str, dict[str, object]] = {}
    for peft_name, array in tensors.items():
        hf_name, part = _module_name(peft_name)
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight",))
        if gguf_name is None:
            raise ExportError(f"{peft_name}: no llama.cpp tensor for {hf_name} in a {shape.architecture} model; "
                              "is --base the model this adapter was trained on?")
        pairs.setdefault(gguf_name, {})[part] = array
    writer_path = Path(output)
    with atomic_path(writer_path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch=shape.architecture)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_string("general.name", f"gerbil-lsp LoRA r={rank} on {config.get('base_model_name_or_path', '')}")
        for gguf_name in sorted(pairs):
            pair = pairs[gguf_name]
            if set(pair) != {"a", "b"}:
                raise ExportError(f"{adapter_dir}: {gguf_name} has lora_{''.join(pair)} without its partner")
            lora_a, lora_b = pair["a"], pair["b"]
            if shape.architecture in PERMUTED_QK and gguf_name.endswith(("attn_q.weight", "attn_k.weight")):
                heads = shape.heads if "attn_q" in gguf_name else shape.kv_heads
                lora_b = _permute_rows(lora_b, heads)
            writer.add_tensor(gguf_name + ".lora_a", lora_a)
            writer.add_tensor(gguf_name + ".lora_b", lora_b)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return writer_path, len(pairs)


def write_modelfile(folder: Path, *, ollama_base: str, adapter: Path, num_ctx: int = 8192) -> Path:
    """A ``Modelfile`` beside the adapter, for ``ollama create NAME -f Modelfile``."""
    from gerbil_lsp.core.atomic import write_text_atomic

    relative = os.path.relpath(adapter, folder)
    path = Path(folder) / "Modelfile"
    write_text_atomic(path, modelfile.render(ollama_base, "./" + relative if not relative.startswith(".") else relative,
                                             num_ctx=num_ctx))
    return path


# --------------------------------------------------------------------------- the merged model


def export_merged(adapter_dir: Path, base: str, output: Path) -> Path:
    """Base + adapter merged into one f16 safetensors model (for converters and hosted endpoints)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gerbil_lsp.trainer.local import base_location

    where, gguf = base_location(str(base))
    model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float16, **gguf)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    with atomic_path(Path(output), folder=True) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        AutoTokenizer.from_pretrained(where, **gguf).save_pretrained(str(tmp))
    return Path(output)


def find_llama_cpp_tools() -> tuple[Path | None, Path | None]:
    """llama.cpp's ``convert_hf_to_gguf.py`` and ``llama-quantize``, from LLAMA_CPP_DIR or PATH."""
    home = os.environ.get("LLAMA_CPP_DIR")
    in_home = [Path(home) / "convert_hf_to_gguf.py", Path(home) / "build" / "bin" / "llama-quantize",
               Path(home) / "llama-quantize"] if home else []
    found = [p for p in in_home if p.is_file()]
    converter = next((p for p in found if p.name.endswith(".py")), None)
    quantizer = next((p for p in found if p.name == "llama-quantize"), None)
    converter = converter or _which("convert_hf_to_gguf.py") or _which("convert-hf-to-gguf")
    return converter, quantizer or _which("llama-quantize")


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None


def convert_merged(merged_dir: Path, output: Path, quantize: str | None, result: ExportResult) -> None:
    """GGUF (f16) and a quantized GGUF from the merged model, when llama.cpp's tools are here."""
    converter, quantizer = find_llama_cpp_tools()
    if converter is None:
        result.notes.append("no merged GGUF: llama.cpp's convert_hf_to_gguf.py was not found (set LLAMA_CPP_DIR to "
                            "a llama.cpp checkout, or put it on PATH); the f16 safetensors model is ready for it")
        return
    f16 = output / "model-f16.gguf"
    command = [str(converter)] if os.access(converter, os.X_OK) and converter.suffix != ".py" else \
        [os.environ.get("PYTHON", "python3"), str(converter)]
    _run(command + [str(merged_dir), "--outfile", str(f16), "--outtype", "f16"], "convert_hf_to_gguf")
    result.merged_gguf = f16
    if not quantize:
        return
    if quantizer is None:
        result.notes.append(f"no {quantize} GGUF: llama-quantize was not found (build llama.cpp and set LLAMA_CPP_DIR, "
                            "or put it on PATH)")
        return
    quantized = output / f"model-{quantize.lower()}.gguf"
    _run([str(quantizer), str(f16), str(quantized), quantize.upper()], "llama-quantize")
    result.quantized_gguf = quantized


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 -- our own argv
    if done.returncode != 0:
        raise ExportError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
