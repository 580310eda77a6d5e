"""Model versions: register, use, rollback; an interrupted copy never becomes (or breaks) the current one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gerbil_lsp.core import paths
from gerbil_lsp.core.settings import load_settings
from gerbil_lsp.trainer import versions


def _adapter(folder: Path, tag: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 16, "tag": tag}))
    (folder / "adapter_model.safetensors").write_bytes(tag.encode() * 1000)
    return folder


def _serving(name: str) -> dict:
    return {"backend": "ollama", "model": name, "base_url": "http://127.0.0.1:11434", "api_key_name": ""}


def test_add_copies_files_and_registers_without_making_current(tmp_path):
    version = versions.add_version(_adapter(tmp_path / "a", "one"), base="Qwen/Qwen2.5-Coder-7B-Instruct",
                                   dataset_sha256="abc")
    stored = Path(version.path)
    assert stored.parent == paths.models_dir() / "versions"
    assert (stored / "adapter_model.safetensors").read_bytes() == b"one" * 1000
    assert versions.current() is None
    [listed] = versions.list_versions()
    assert (listed.id, listed.base, listed.dataset_sha256, listed.status) == (version.id, version.base, "abc", "ready")


def test_use_points_settings_at_the_version_and_rollback_goes_back(tmp_path):
    first = versions.add_version(_adapter(tmp_path / "a", "one"), base="b", serving=_serving("gerbil:one"))
    second = versions.add_version(_adapter(tmp_path / "b", "two"), base="b", serving=_serving("gerbil:two"))
    versions.use(first.id)
    versions.use(second.id)
    model = load_settings().settings.model
    assert (model.backend, model.model) == ("ollama", "gerbil:two")
    assert versions.current().id == second.id

    back = versions.rollback()
    assert back.id == first.id
    assert versions.current().id == first.id
    assert load_settings().settings.model.model == "gerbil:one"
    statuses = {v.id: v.status for v in versions.list_versions()}
    assert statuses == {first.id: "current", second.id: "ready"}
    with pytest.raises(versions.VersionError, match="nothing to roll back"):
        versions.rollback()


def test_use_by_unique_prefix_and_clear_errors(tmp_path):
    version = versions.add_version(_adapter(tmp_path / "a", "one"), base="b", serving=_serving("m"),
                                   version_id="v1-alpha")
    assert versions.use("v1-al").id == version.id
    with pytest.raises(versions.VersionError, match="no model version 'zzz'"):
        versions.use("zzz")
    undeployed = versions.add_version(_adapter(tmp_path / "b", "two"), base="b", version_id="v2-beta")
    with pytest.raises(versions.VersionError, match="never deployed"):
        versions.use(undeployed.id)
    assert versions.current().id == version.id  # a refused switch changes nothing


def test_eval_score_is_recorded(tmp_path):
    version = versions.add_version(_adapter(tmp_path / "a", "one"), base="b")
    versions.set_score(version.id, 0.71)
    assert versions.load_registry().get(version.id).eval_score == pytest.approx(0.71)


def test_interrupted_copy_leaves_no_version_and_current_intact(tmp_path, monkeypatch):
    good = versions.add_version(_adapter(tmp_path / "a", "one"), base="b", serving=_serving("gerbil:one"))
    versions.use(good.id)
    before = (paths.models_dir() / versions.REGISTRY).read_text()
    source = _adapter(tmp_path / "b", "two")
    (source / "tokenizer.json").write_text("{}")
    import shutil

    real_copy2 = shutil.copy2
    copied = []

    def copy_then_interrupt(src, dst, **kwargs):
        if copied:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the copy
        copied.append(src)
        return real_copy2(src, dst, **kwargs)

    monkeypatch.setattr(shutil, "copy2", copy_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        versions.add_version(source, base="b")
    assert copied  # it really was mid-copy
    assert (paths.models_dir() / versions.REGISTRY).read_text() == before
    assert list((paths.models_dir() / "versions").iterdir()) == [Path(good.path)]
    assert versions.current().id == good.id


def test_killed_mid_copy_leaves_current_intact_and_partial_is_cleaned(tmp_path):
    """SIGKILL (no cleanup code runs) while a version is being copied in."""
    good = versions.add_version(_adapter(tmp_path / "a", "one"), base="b", serving=_serving("gerbil:one"))
    versions.use(good.id)
    registry_before = (paths.models_dir() / versions.REGISTRY).read_text()
    source = _adapter(tmp_path / "b", "two")
    (source / "z-extra.bin").write_bytes(b"x" * 4096)
    script = textwrap.dedent(f"""
        import shutil, sys, time
        real = shutil.copy2
        def slow(src, dst, **kw):
            out = real(src, dst, **kw)
            print("copied", src, flush=True)
            time.sleep(60)  # the disk stalls after the first file
            return out
        shutil.copy2 = slow
        from gerbil_lsp.trainer import versions
        versions.add_version({str(source)!r}, base="b")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert proc.stdout.readline().startswith("copied")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    folder = paths.models_dir() / "versions"
    leftovers = [p for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers, "the kill happened mid-copy, so a partial folder is there"
    assert (paths.models_dir() / versions.REGISTRY).read_text() == registry_before
    assert versions.current().id == good.id
    assert [v.id for v in versions.list_versions()] == [good.id]
    assert versions.clean_partials() == len(leftovers)
    assert [p.name for p in folder.iterdir()] == [good.id]


def test_promote_for_retrain_accepts_an_id(tmp_path):
    version = versions.add_version(_adapter(tmp_path / "a", "one"), base="b", serving=_serving("gerbil:one"))
    assert versions.promote(version.id) == version.id
    assert versions.current().id == version.id


def test_registry_written_by_hand_badly_is_reported(tmp_path):
    (paths.models_dir() / versions.REGISTRY).write_text("{not json")
    with pytest.raises(versions.VersionError, match="unreadable"):
        versions.list_versions()


def test_created_times_order_the_list(tmp_path):
    a = versions.add_version(_adapter(tmp_path / "a", "one"), base="b")
    time.sleep(0.01)
    b = versions.add_version(_adapter(tmp_path / "b", "two"), base="b")
    assert [v.id for v in versions.list_versions()] == [a.id, b.id]
    assert versions.latest().id == b.id


def test_models_cli_list_use_rollback(tmp_path):
    from typer.testing import CliRunner

    from gerbil_lsp.cli import app

    first = versions.add_version(_adapter(tmp_path / "a", "one"), base="qwen-base", serving=_serving("gerbil:one"))
    second = versions.add_version(_adapter(tmp_path / "b", "two"), base="qwen-base", serving=_serving("gerbil:two"))
    runner = CliRunner()
    assert runner.invoke(app, ["models", "use", first.id]).exit_code == 0
    assert runner.invoke(app, ["models", "use", second.id]).exit_code == 0
    listed = runner.invoke(app, ["models", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and first.id in listed.output and "gerbil:two" in listed.output
    back = runner.invoke(app, ["models", "rollback"])
    assert back.exit_code == 0 and f"rolled back to {first.id}" in " ".join(back.output.split())
    assert load_settings().settings.model.model == "gerbil:one"
    missing = runner.invoke(app, ["models", "use", "nope"])
    assert missing.exit_code == 1 and "no model version 'nope'" in missing.output
