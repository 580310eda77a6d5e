"""``gerbil-lsp index build|lookup|drift`` (the typer sub-app the main CLI mounts)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gerbil_lsp.core.index import build_bundle
from gerbil_lsp.core.index.cli import index_app

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "index"
runner = CliRunner()


def test_build_lookup_drift(tmp_path):
    out = tmp_path / "idx.json.gz"
    r = runner.invoke(index_app, ["build", "--docs", str(FIX / "docs"),
                                  "--gerbil-src", str(FIX / "gerbil-src"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.is_file() and "drift 3" in r.output
    r = runner.invoke(index_app, ["lookup", "hash-get", "--index", str(out)])
    assert r.exit_code == 0, r.output
    assert "prelude" in r.output and "hash-get table key" in r.output and "2" in r.output
    r = runner.invoke(index_app, ["lookup", "no-such-name", "--index", str(out)])
    assert r.exit_code == 1
    r = runner.invoke(index_app, ["drift", "--index", str(out), "--json"])
    assert r.exit_code == 0 and "hello-world!" in r.output


def test_build_needs_inputs(tmp_path):
    r = runner.invoke(index_app, ["build", "--out", str(tmp_path / "x.json.gz")])
    assert r.exit_code == 2


def test_drift_needs_source_and_bad_index_is_clear(tmp_path):
    out = tmp_path / "docs.json.gz"
    assert runner.invoke(index_app, ["build", "--docs", str(FIX / "docs"), "--out", str(out)]).exit_code == 0
    assert runner.invoke(index_app, ["drift", "--index", str(out)]).exit_code == 1
    bad = tmp_path / "bad.json.gz"
    bad.write_text("nope")
    r = runner.invoke(index_app, ["lookup", "car", "--index", str(bad)])
    assert r.exit_code == 1


def test_bundle_is_deterministic(tmp_path):
    a = build_bundle(FIX / "docs", tmp_path / "a.json.gz")
    b = build_bundle(FIX / "docs", tmp_path / "b.json.gz")
    assert a.read_bytes() == b.read_bytes()
