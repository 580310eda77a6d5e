"""`gerbil-lsp data validate FILE`: every bad line of a dataset file, by number.

Any JSONL in one of our formats (ShareGPT, messages, Alpaca, FIM, or the full
``entries.jsonl``), or an Alpaca JSON array. The file's format is the one its
first good line is in; lines in another format are bad (one format per file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gerbil_lsp.data.formats import FORMATS, detect

ENTRY_KEYS = ("id", "kind", "provenance")


@dataclass
class ValidationReport:
    path: Path
    format: str | None = None
    lines: int = 0
    good: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.good > 0

    def summary(self) -> str:
        fmt = self.format or "unknown format"
        bad = len({n for n, _ in self.problems})
        return f"{self.path}: {fmt}, {self.good} good, {bad} bad of {self.lines}"


def _detect(obj: Any) -> str | None:
    if isinstance(obj, dict) and all(k in obj for k in ENTRY_KEYS):
        return "entries"
    return detect(obj)


def _check(fmt: str, obj: Any) -> list[str]:
    if fmt == "entries":
        return _entry_problems(obj)
    return FORMATS[fmt].check_record(obj)


def _entry_problems(obj: Any) -> list[str]:
    from gerbil_lsp.data.entries import Entry, content_id

    try:
        entry = Entry.from_record(obj)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"not an entry record: {exc}"]
    problems = []
    if entry.kind not in ("chat", "fim"):
        problems.append(f"unknown kind {entry.kind!r}")
    elif content_id(entry) != obj.get("id"):
        problems.append(f"id {obj.get('id')!r} does not match the content (expected {content_id(entry)})")
    if entry.kind == "chat":
        problems.extend(FORMATS["messages"].check_record({"messages": obj.get("messages", [])}))
    if not entry.provenance.file:
        problems.append("provenance has no file")
    return problems


def validate_file(path: str | Path) -> ValidationReport:
    """Check a dataset file; the report lists every bad line (1-based) with what is wrong."""
    path = Path(path)
    report = ValidationReport(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.problems.append((0, f"cannot read: {exc.strerror}"))
        return report
    if path.suffix == ".json":
        return _validate_array(data, report)
    for number, raw in enumerate(data.splitlines(), start=1):
        report.lines = number
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.problems.append((number, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
            continue
        if not line.strip():
            report.problems.append((number, "blank line"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            report.problems.append((number, f"not JSON: {exc.msg} at column {exc.colno}"))
            continue
        fmt = _detect(obj)
        if fmt is None:
            keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            report.problems.append((number, f"not in any of our formats (keys: {keys})"))
            continue
        if report.format is None:
            report.format = fmt
        elif fmt != report.format:
            report.problems.append((number, f"{fmt} line in a {report.format} file (one format per file)"))
            continue
        problems = _check(fmt, obj)
        report.problems.extend((number, p) for p in problems)
        if not problems:
            report.good += 1
    if report.lines == 0:
        report.problems.append((0, "empty file"))
    return report


def _validate_array(data: bytes, report: ValidationReport) -> ValidationReport:
    """An Alpaca JSON array: bad items are reported at the line they start on."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.problems.append((1, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
        return report
    report.lines = text.count("\n") + 1
    decoder = json.JSONDecoder()
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        report.problems.append((exc.lineno, f"not JSON: {exc.msg} at column {exc.colno}"))
        return report
    if not isinstance(items, list):
        report.problems.append((1, "a .json dataset must be a JSON array of Alpaca records"))
        return report
    report.format = "alpaca-json"
    # find where each item starts, to name its line
    pos = text.index("[") + 1
    for i, item in enumerate(items):
        while text[pos] in " \t\r\n,":
            pos += 1
        line = text.count("\n", 0, pos) + 1
        _, pos = decoder.raw_decode(text, pos)
        problems = FORMATS["alpaca"].check_record(item)
        report.problems.extend((line, f"item {i}: {p}") for p in problems)
        if not problems:
            report.good += 1
    return report
