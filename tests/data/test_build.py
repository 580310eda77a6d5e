"""The whole build over small fixtures: checks drop what they must, outputs read back, determinism.

Uses the real core reader and a symbol index built by the core index from the
fixture docs (no mocks): the fixture documents a small prelude and :std/format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gerbil_lsp.data import build_dataset, check_together_file, validate_file

FIXTURES = Path(__file__).parent / "fixtures"


def _build(out: Path, **kw):
    return build_dataset(docs=FIXTURES / "doc", cookbooks=[FIXTURES / "cookbook"], output=out, seed=5,
                         heldout_fraction=0.3, **kw)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "out"
    return _build(out)


def _drops(result, reason):
    return [d for d in result.drops if d["reason"] == reason]


def test_planted_hallucinated_name_is_dropped(built):
    records = [json.loads(line) for line in (built.output / "entries.jsonl").read_text().splitlines()]
    # only a question may name it: "how do I write SRFI 69's hash-table-ref in Gerbil?" (answered with hash-ref)
    answers = [m["content"] for r in records for m in r.get("messages", []) if m["role"] != "user"]
    assert not [a for a in answers if "hash-table-ref" in a]
    asked = [r for r in records if "hash-table-ref" in json.dumps(r)]
    assert asked and {r["provenance"]["source"] for r in asked} == {"other-schemes"}
    assert "`hash-ref`" in asked[0]["messages"][2]["content"]
    drop = next(d for d in _drops(built, "unresolved identifier") if "hash-table-ref" in d["detail"])
    assert drop["source"] == "cookbook" and drop["where"].startswith("cookbooks.json:")


def test_planted_unbalanced_blocks_are_dropped(built):
    unreadable = _drops(built, "code does not read cleanly")
    wheres = {d["where"] for d in unreadable}
    assert any(w.startswith("cookbooks.json:") for w in wheres)  # the unbalanced recipe
    assert any(w.startswith("guide/intro.md:") for w in wheres)  # the broken guide example
    text = (built.output / "entries.jsonl").read_text()
    assert "show-number" not in text and "(half n)" not in text


def test_good_material_is_kept_with_provenance(built):
    records = [json.loads(line) for line in (built.output / "entries.jsonl").read_text().splitlines()]
    groups = {r["provenance"]["group"] for r in records}
    assert "cookbook:greet-with-format" in groups  # format resolves through (import :std/format)
    assert "cookbook:escaped-twice" in groups
    docs = [r for r in records if r["provenance"]["source"] == "docs"]
    assert any("`format` is a procedure that comes from `:std/format`" in r["messages"][2]["content"] for r in docs)
    assert all(r["provenance"]["file"] and r["id"] for r in records)
    assert {r["kind"] for r in records} == {"chat", "fim"}


def test_every_output_validates_and_messages_pass_together_rules(built):
    for name in ("train.sharegpt.jsonl", "train.messages.jsonl", "train.alpaca.jsonl", "train.alpaca.json",
                 "train.fim.jsonl", "entries.jsonl"):
        report = validate_file(built.output / name)
        assert report.ok, (name, report.problems)
    assert check_together_file(built.output / "train.messages.jsonl") == []
    stats = json.loads((built.output / "stats.json").read_text())
    assert stats["dropped"]["unresolved identifier"] >= 1
    assert "Dropped, and why" in (built.output / "report.md").read_text()
    assert (built.output / "lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_inputs_and_seed_give_byte_identical_outputs(built, tmp_path):
    again = _build(tmp_path / "again")
    names = sorted(p.name for p in built.output.iterdir())
    assert names == sorted(p.name for p in again.output.iterdir())
    for name in names:
        assert (built.output / name).read_bytes() == (again.output / name).read_bytes(), name


def test_output_is_replaced_atomically(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old dataset")
    _build(out)
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or old folders left behind


def test_cli_build_then_stats_and_show(tmp_path):
    from gerbil_lsp.data.cli import data_app

    runner = CliRunner()
    out = tmp_path / "cli-out"
    result = runner.invoke(data_app, ["build", "--docs", str(FIXTURES / "doc"), "--cookbook",
                                      str(FIXTURES / "cookbook"), "-o", str(out), "--format", "messages"])
    assert result.exit_code == 0, result.output
    assert (out / "train.messages.jsonl").exists() and not (out / "train.sharegpt.jsonl").exists()
    result = runner.invoke(data_app, ["stats", str(out)])
    assert result.exit_code == 0 and "dropped" in result.output
    first = json.loads((out / "entries.jsonl").read_text().splitlines()[0])
    result = runner.invoke(data_app, ["show", first["id"][:10], "--dir", str(out)])
    assert result.exit_code == 0 and first["provenance"]["file"] in result.output


def test_second_process_changes_nothing(tmp_path, monkeypatch):
    """The work handed to a second process (tests/FIM sources, overlap, sketches, the PNG) gives the same bytes."""
    from gerbil_lsp.data import ahead

    forked = []
    real_pool = ahead._fork_pool

    def counting_pool():
        pool = real_pool()
        if pool is not None:
            forked.append(pool)
        return pool

    monkeypatch.setattr(ahead, "_fork_pool", counting_pool)
    outputs = {}
    for parallel in ("0", "1"):
        monkeypatch.setenv(ahead.PARALLEL_ENV, parallel)
        forked.clear()
        result = _build(tmp_path / f"p{parallel}", projects=[FIXTURES / "project"])
        outputs[parallel] = result.output
        if parallel == "0":
            assert forked == []
        elif ahead._can_fork():
            assert len(forked) >= 3  # file sources, text work, the histogram
    names = sorted(p.name for p in outputs["0"].iterdir())
    assert names == sorted(p.name for p in outputs["1"].iterdir())
    for name in names:
        assert (outputs["0"] / name).read_bytes() == (outputs["1"] / name).read_bytes(), name
    records = [json.loads(line) for line in (outputs["1"] / "entries.jsonl").read_text().splitlines()]
    project = {(r["kind"], r["provenance"]["file"]) for r in records if r["provenance"]["source"] == "project"}
    assert ("chat", "demo/util.ss") in project and ("chat", "demo/util-test.ss") in project
    assert any(kind == "fim" for kind, _ in project)


def test_sink_absorb_is_running_into_one_sink():
    from gerbil_lsp.data.sources import Sink

    def run(sink, tag, n):
        for i in range(n):
            sink.drop("reason a", f"{tag}{i}")
            sink.warn(f"{tag}.ss", i, "odd")
        sink.add(tag)

    one = Sink()
    run(one, "x", 3)
    run(one, "y", 4)
    seen = []
    two, other = Sink(seen.append), Sink()
    run(two, "x", 3)
    run(other, "y", 4)
    two.absorb(other.state())
    assert two.entries == one.entries and two.dropped == one.dropped
    assert two.drop_examples == one.drop_examples == {"reason a": ["x0", "x1", "x2", "y0", "y1"]}
    assert two.warnings == one.warnings and seen == one.warnings


@pytest.mark.parametrize("records", [
    [{"instruction": 'say "hi" \\ é λ \u2028 \x00', "input": "", "output": "a\nb"}, {"instruction": "🙂", "input": "x", "output": "y"}],
    [],
    [{"a": 1}],
    [{}],
    [{"k": ["not", "a", "string"]}],
])
def test_json_layout_helpers_match_json_dumps(records):
    from gerbil_lsp.data.build import _json_array_indent1, _jsonl

    assert _json_array_indent1(records) == json.dumps(records, ensure_ascii=False, indent=1)
    assert _jsonl(records) == "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
