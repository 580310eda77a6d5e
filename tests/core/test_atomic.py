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


def test_new_files_get_normal_permissions_and_existing_keep_theirs(tmp_path):
    fresh = tmp_path / "fresh.txt"
    write_text_atomic(fresh, "x")
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~_umask()
    private = tmp_path / "private.txt"
    private.write_text("old")
    private.chmod(0o600)
    write_text_atomic(private, "new")
    assert private.stat().st_mode & 0o777 == 0o600


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
