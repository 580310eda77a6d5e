"""The LoRA recipe: the settings' `train` section with command-line overrides on top."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from gerbil_lsp.core.settings import TrainSettings


@dataclass(frozen=True)
class Recipe:
    base_model: str
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    epochs: float = 3
    learning_rate: float = 2e-4
    batch_size: int = 2
    grad_accum: int = 4
    warmup_steps: int = 10
    max_length: int = 4096
    packing: bool = True
    seed: int = 42
    max_steps: int = -1  # > 0 caps the run (smoke tests, quick looks)
    engine: str = "auto"  # auto | unsloth | peft (see trainer/engine.py)
    unsloth_base_model: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_settings(cls, train: TrainSettings, **overrides) -> Recipe:
        values = {f.name: getattr(train, f.name) for f in fields(cls) if hasattr(train, f.name)}
        values["target_modules"] = tuple(values.get("target_modules", ()))
        recipe = cls(**values)
        return replace(recipe, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)
