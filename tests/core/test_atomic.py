"""Atomic writes: an interrupted write leaves the previous file whole and no temp litter."""

from __future__ import annotations

import pytest

from gerbil_lsp.core.atomic import atomic_writer, write_text_atomic


def test_replace_is_all_or_nothing(tmp_path):
    target = tmp_path / "out" / "data.jsonl"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["data.jsonl"]
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
