"""`data validate`: every bad line by number, exit non-zero."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gerbil_lsp.data import validate_file
from gerbil_lsp.data.cli import data_app

GOOD = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                     {"role": "assistant", "content": "a"}]}


def _write(path, lines):
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_every_bad_line_is_reported(tmp_path):
    path = _write(tmp_path / "d.jsonl", [
        json.dumps(GOOD).encode(),
        b"{broken",
        json.dumps({"messages": [{"role": "assistant", "content": "a"}]}).encode(),
        b"",
        json.dumps(GOOD).encode(),
        b'{"messages": [{"role": "user", "content": "\xff"}]}',
        json.dumps({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}).encode(),
    ])
    report = validate_file(path)
    assert report.format == "messages"
    bad = sorted({n for n, _ in report.problems})
    assert bad == [2, 3, 4, 6, 7]
    assert report.good == 2
    assert not report.ok


def test_cli_exit_code_and_line_numbers(tmp_path):
    runner = CliRunner()
    good = _write(tmp_path / "good.jsonl", [json.dumps(GOOD).encode()])
    result = runner.invoke(data_app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    bad = _write(tmp_path / "bad.jsonl", [json.dumps(GOOD).encode(), b"[1, 2]"])
    result = runner.invoke(data_app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl:2:" in result.output


def test_alpaca_json_array_reports_item_lines(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('[\n {"instruction": "i", "input": "", "output": "o"},\n {"instruction": "", "input": "", "output": "o"}\n]\n')
    report = validate_file(path)
    assert report.format == "alpaca-json"
    assert [n for n, _ in report.problems] == [3]
