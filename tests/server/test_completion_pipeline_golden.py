"""Every golden case in tests/server/golden/*.toml: Gerbil text, a raw completion, what the user sees.

Each file is named after a post-processing filter (``pipeline.toml`` runs them
all). A case's ``document`` marks the cursor with ``<|cursor|>``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gerbil_lsp.server.completion.postprocess import FILTERS, Surroundings, postprocess

GOLDEN = Path(__file__).parent / "golden"
CURSOR = "<|cursor|>"


def _cases():
    for path in sorted(GOLDEN.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for case in data["case"]:
            yield pytest.param(path.stem, case, id=f"{path.stem}: {case['name']}")


@pytest.mark.parametrize(("stage", "case"), list(_cases()))
def test_golden(stage: str, case: dict) -> None:
    document = case["document"]
    assert document.count(CURSOR) == 1, "a golden document marks exactly one cursor"
    prefix, suffix = document.split(CURSOR)
    where = Surroundings(prefix, suffix)
    if stage == "pipeline":
        shown = postprocess(case["completion"], where)
    else:
        shown = FILTERS[stage](case["completion"], where)
    if case.get("dropped"):
        assert shown is None or not shown.strip(), f"expected the completion dropped, got {shown!r}"
    else:
        assert shown == case["expected"]


def test_every_filter_has_golden_cases() -> None:
    stems = {p.stem for p in GOLDEN.glob("*.toml")}
    assert set(FILTERS) | {"pipeline"} <= stems
