"""A trained adapter as a candidate model: registered as a version, evaluable, promotable.

``gerbil-lsp retrain`` trains through :func:`train_candidate`, lets the eval gate
score :attr:`Candidate.spec` (the same backend spec `gerbil-lsp eval run` takes),
then calls :func:`promote_candidate`. How a promoted version is served follows
what serves now: an embedded GGUF base gets the adapter as a GGUF LoRA (llama.cpp
``--lora``), an Ollama model gets a new Ollama model with the adapter, a Together
adapter is registered there; with nothing served yet the version only becomes
current and the report says which ``gerbil-lsp deploy`` serves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gerbil_lsp.trainer import versions


@dataclass
class Candidate:
    version_id: str
    base: str  # what it was trained on: an HF dir/id or a GGUF file
    adapter_dir: str  # the PEFT adapter (in the version's folder)
    spec: str  # backend spec that serves it, for the eval gate
    gguf_adapter: str = ""  # the GGUF LoRA, when the base is a GGUF
    run_dir: str = ""

    def __str__(self) -> str:
        return f"{self.version_id} ({self.spec})"


def register_local(record: Any) -> versions.Version:
    """Every local training run's adapter becomes a model version (a local run's RunRecord)."""
    return versions.add_version(Path(record.adapter_dir), base=record.base_model, dataset_sha256=record.dataset_sha256,
                                source="local", meta={"run_dir": record.run_dir, "examples": record.examples})


def candidate_for(version: versions.Version) -> Candidate:
    """The candidate view of a version: a GGUF base gets the adapter exported next to it."""
    if version.base.endswith(".gguf"):
        from gerbil_lsp.trainer.export import export_gguf_adapter

        gguf, _ = export_gguf_adapter(Path(version.path), Path(version.path) / "export" / "adapter.gguf", version.base)
        return Candidate(version.id, version.base, version.path, f"gguf:{version.base}+{gguf}", str(gguf),
                         version.meta.get("run_dir", ""))
    if version.source == "together" and version.meta.get("output_name"):
        return Candidate(version.id, version.base, version.path, f"together:{version.meta['output_name']}",
                         run_dir=version.meta.get("run_dir", ""))
    return Candidate(version.id, version.base, version.path, f"hf:{version.base}+{version.path}",
                     run_dir=version.meta.get("run_dir", ""))


def train_candidate(*, dataset_dir: Path, backend: str, output: Path, settings: Any) -> Candidate:
    """Train on ``dataset_dir`` with the settings' recipe; the new version, not yet served."""
    from gerbil_lsp.trainer.recipe import Recipe

    recipe = Recipe.from_settings(settings.train)
    if backend == "together":
        from gerbil_lsp.trainer import together

        run = together.train(recipe, dataset_dir, model=settings.train.together_base_model, output=output,
                             poll_s=settings.train.together_poll_s)
        version = versions.load_registry().get(run.version_id)
    else:
        from gerbil_lsp.trainer.local import train_local

        version = register_local(train_local(recipe, dataset_dir, output, progress=False))
    return candidate_for(version)


def promote_candidate(candidate: Candidate | str, *, settings: Any) -> str:
    """Serve the candidate the way the current model is served; the previous version stays for rollback."""
    if isinstance(candidate, str):
        candidate = candidate_for(versions.load_registry().get(candidate))
    model = settings.model
    if candidate.gguf_adapter:
        versions.update_version(candidate.version_id, serving={
            "backend": "llamacpp", "model": candidate.base, "adapter": candidate.gguf_adapter, "base_url": "",
            "api_key_name": "", "chat_only": False})
        return versions.use(candidate.version_id).id
    if candidate.spec.startswith("together:"):
        from gerbil_lsp.trainer.deploy import deploy_together

        return deploy_together(None, version_id=candidate.version_id).version_id
    if model.backend == "ollama":
        from gerbil_lsp.trainer.deploy import deploy_ollama
        from gerbil_lsp.trainer.export import export_gguf_adapter

        export_gguf_adapter(Path(candidate.adapter_dir), Path(candidate.adapter_dir) / "export" / "adapter.gguf",
                            candidate.base)
        return deploy_ollama(None, version_id=candidate.version_id, host=model.base_url or None,
                             num_ctx=model.num_ctx).version_id
    versions.use(candidate.version_id, apply_settings=False)
    return (f"{candidate.version_id} (current; nothing serves it yet: `gerbil-lsp deploy ollama --version "
            f"{candidate.version_id}` or `gerbil-lsp export` it)")
