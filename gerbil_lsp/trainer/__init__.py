"""Datasets -> LoRA adapters. This version trains locally with transformers + peft + trl."""

from gerbil_lsp.trainer.dataset import DatasetError, load_training_texts
from gerbil_lsp.trainer.local import RunRecord, train_local
from gerbil_lsp.trainer.recipe import Recipe

__all__ = ["DatasetError", "Recipe", "RunRecord", "load_training_texts", "train_local"]
