"""`gerbil-lsp export`: a trained adapter -> GGUF LoRA adapter + Ollama Modelfile (+ merged model)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def export(
    adapter: Path = typer.Argument(None, help="a PEFT adapter folder (default: the newest model version's)"),
    version: str = typer.Option(None, "--version", help="export this model version (see `gerbil-lsp models list`)"),
    output: Path = typer.Option(None, "--output", "-o", help="folder for the results (default: <adapter>/export)"),
    base: str = typer.Option(None, "--base", help="the base model's folder, config.json or GGUF (default: what the "
                                                  "adapter was trained on)"),
    ollama_base: str = typer.Option(None, "--ollama-base", help="Ollama's name for the same base weights, for the "
                                                                "Modelfile's FROM (default: from the base's name)"),
    merged: bool = typer.Option(False, "--merged", help="also write base+adapter merged (f16 safetensors; GGUF "
                                                        "when llama.cpp's converter is found)"),
    quantize: str = typer.Option("q4_k_m", "--quantize", help="quantization of the merged GGUF ('' for none)"),
) -> None:
    """Convert a trained LoRA adapter to GGUF (llama.cpp --lora, Ollama ADAPTER) and write a Modelfile."""
    from gerbil_lsp.core.settings import SettingsError, load_settings
    from gerbil_lsp.trainer import export as exporter
    from gerbil_lsp.trainer.deploy import OLLAMA_BASES
    from gerbil_lsp.trainer.versions import VersionError, latest, load_registry

    try:
        num_ctx = load_settings().settings.model.num_ctx
        if adapter is None:
            chosen = load_registry().get(version) if version else latest()
            if chosen is None or not chosen.path:
                raise VersionError("no trained model version with adapter files: pass the adapter folder")
            adapter = Path(chosen.path)
            base = base or chosen.base
        output = Path(output or adapter / "export")
        config, _ = exporter.read_peft_adapter(adapter)
        base = base or exporter.trained_base(adapter, config)
        gguf_adapter, pairs = exporter.export_gguf_adapter(adapter, output / "adapter.gguf", base)
        result = exporter.ExportResult(gguf_adapter=gguf_adapter, tensors=pairs)
        console.print(f"GGUF LoRA adapter: {gguf_adapter} ({pairs} low-rank pairs, "
                      f"{gguf_adapter.stat().st_size / 1e6:.1f} MB)")
        # Ollama's FROM takes a library name, or a GGUF file (a GGUF base is its own Ollama base)
        ollama_name = ollama_base or OLLAMA_BASES.get(base) or (base if str(base).endswith(".gguf") else None)
        if ollama_name:
            result.modelfile = exporter.write_modelfile(output, ollama_base=ollama_name, adapter=gguf_adapter,
                                                        num_ctx=num_ctx)
            console.print(f"Modelfile: {result.modelfile} (`ollama create NAME -f {result.modelfile}`, or "
                          "`gerbil-lsp deploy ollama`)")
        else:
            console.print(f"no Modelfile: which Ollama model holds the base {base!r}? pass --ollama-base")
        if merged:
            with console.status("merging the adapter into the base"):
                result.merged_dir = exporter.export_merged(adapter, base, output / "merged")
            console.print(f"merged model (f16 safetensors): {result.merged_dir}")
            exporter.convert_merged(result.merged_dir, output, quantize or None, result)
            for path in (result.merged_gguf, result.quantized_gguf):
                if path:
                    console.print(f"merged GGUF: {path}")
        for note in result.notes:
            console.print(f"[yellow]{note}[/]")
    except (exporter.ExportError, VersionError, SettingsError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
