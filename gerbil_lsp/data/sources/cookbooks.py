"""gerbil-mcp style cookbooks: recipes, security rules, error fixes, resource guides.

Recipes are claims to validate, not ground truth: every entry carries its code
as a :class:`CodeBlock` under the recipe's imports, so the checks can refuse a
recipe that reads badly or calls names that do not exist. Deprecated recipes
(superseded by another) are dropped here with their reason.

Some recipes' ``code`` was stored escaped twice: one line with literal ``\\n``
and ``\\"`` sequences. Such a field is decoded as a JSON string body, but only
when it has no real newline and is a valid JSON string body (every ``"``
escaped); a one-line recipe that merely prints ``"...\\n"`` keeps its escape.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from gerbil_lsp.data.entries import CodeBlock, Provenance, chat, scheme_block
from gerbil_lsp.data.sources import Sink, read_text
from gerbil_lsp.data.sources.markdown import render, split_sections

RECIPE_FILE = "cookbooks.json"
SECURITY_FILE = "security-rules.json"
ERROR_FIXES_FILE = "error-fixes.json"

_QUESTIONS = (
    "How do I do this in Gerbil Scheme: {title}?",
    "Show me idiomatic Gerbil Scheme for this: {title}.",
    "In Gerbil Scheme, {title_lc} — how does that work? Please include code.",
    "Gerbil question: {title}. What's the right way, with an example?",
)


def decode_escaped(text: str) -> tuple[str, bool]:
    """Undo a second layer of JSON escaping; (text, whether it was decoded)."""
    if "\n" in text or "\\n" not in text:
        return text, False
    try:
        decoded = json.loads(f'"{text}"')
    except json.JSONDecodeError:
        return text, False
    return decoded, True


def cookbook_files(path: Path) -> dict[str, Path]:
    """The cookbook files under a folder (or the one file given)."""
    if path.is_file():
        return {path.name: path}
    found = {}
    for name in (RECIPE_FILE, SECURITY_FILE, ERROR_FIXES_FILE):
        if (path / name).is_file():
            found[name] = path / name
    for md in sorted((path / "resources").glob("*.md")) if (path / "resources").is_dir() else []:
        found[f"resources/{md.name}"] = md
    return found


def from_cookbook(path: Path, sink: Sink) -> None:
    """All entries of a cookbook folder (or a single cookbook file)."""
    files = cookbook_files(path)
    if not files:
        sink.warn(str(path), 0, f"no {RECIPE_FILE}, {SECURITY_FILE}, {ERROR_FIXES_FILE} or resources/*.md here")
    for name, file in files.items():
        if name.endswith(".md"):
            from_resource(file, sink, shown=name)
        elif file.name == SECURITY_FILE:
            for record, line in _records(file, sink):
                security_rule(record, file.name, line, sink)
        elif file.name == ERROR_FIXES_FILE:
            for record, line in _records(file, sink):
                error_fix(record, file.name, line, sink)
        else:
            for record, line in _records(file, sink):
                recipe(record, file.name, line, sink)


def _records(file: Path, sink: Sink) -> list[tuple[Any, int]]:
    """The array's records with the line each starts on; a broken file is warned and skipped."""
    text = read_text(file, sink, file.name)
    if text is None:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        sink.warn(file.name, exc.lineno, f"not valid JSON ({exc.msg}); file skipped")
        return []
    if not isinstance(data, list):
        sink.warn(file.name, 1, "expected a JSON array of records; file skipped")
        return []
    out, pos, decoder = [], text.index("[") + 1, json.JSONDecoder()
    line, counted = 1, 0  # line of text[counted], counted on as we go (not from the top each time)
    for item in data:
        while text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", counted, pos)
        counted = pos
        out.append((item, line))
        _, pos = decoder.raw_decode(text, pos)
    return out


def _str(record: dict, key: str) -> str:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""


def _strs(record: dict, key: str) -> list[str]:
    value = record.get(key)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def recipe(record: Any, file: str, line: int, sink: Sink) -> None:
    where = f"{file}:{line}"
    if not isinstance(record, dict):
        sink.warn(file, line, "recipe is not a JSON object; skipped")
        return
    rid, title = _str(record, "id"), _str(record, "title")
    code, decoded = decode_escaped(record.get("code") if isinstance(record.get("code"), str) else "")
    missing = [k for k, v in (("id", rid), ("title", title), ("code", code.strip())) if not v]
    if missing:
        sink.warn(file, line, f"recipe {rid or '(no id)'} lacks {', '.join(missing)}; skipped")
        sink.drop("malformed recipe", where)
        return
    if record.get("deprecated"):
        sink.drop("deprecated recipe", f"{where} {rid} (superseded by {record.get('superseded_by')})")
        return
    notes, _ = decode_escaped(_str(record, "notes"))
    imports = _strs(record, "imports")
    version = _str(record, "gerbil_version") or None
    valid_for = _strs(record, "valid_for")
    if not version and len(valid_for) == 1:
        version = valid_for[0]
    template = _QUESTIONS[int(hashlib.sha256(rid.encode()).hexdigest(), 16) % len(_QUESTIONS)]
    question = template.format(title=title, title_lc=title[:1].lower() + title[1:])
    parts = []
    if notes:
        parts.append(notes)
    parts.append(scheme_block(code))
    if imports:
        parts.append("Imports: " + " ".join(f"`{m}`" for m in imports) + ".")
    if version:
        parts.append(f"(Written for Gerbil {version}.)")
    tags = tuple(t for t in _strs(record, "tags"))
    sink.add(
        chat(
            question,
            "\n\n".join(parts),
            Provenance("cookbook", file, line, version, f"cookbook:{rid}"),
            code=(CodeBlock(code, tuple(imports)),),
            tags=tags + (("decoded-escapes",) if decoded else ()),
        )
    )


def security_rule(record: Any, file: str, line: int, sink: Sink) -> None:
    if not isinstance(record, dict) or not _str(record, "title") or not _str(record, "message"):
        sink.warn(file, line, "security rule without title or message; skipped")
        sink.drop("malformed security rule", f"{file}:{line}")
        return
    title, message, fix = _str(record, "title"), _str(record, "message"), _str(record, "remediation")
    severity = _str(record, "severity")
    question = f"What is the risk of this in Gerbil Scheme code, and how do I avoid it: {title.lower()}?"
    answer = message + (f"\n\nSeverity: {severity}." if severity else "") + (f"\n\nFix: {fix}" if fix else "")
    sink.add(chat(question, answer, Provenance("security-rules", file, line, None, f"security:{_str(record, 'id')}")))


def error_fix(record: Any, file: str, line: int, sink: Sink) -> None:
    where = f"{file}:{line}"
    if not isinstance(record, dict) or not _str(record, "pattern") or not _str(record, "fix"):
        sink.warn(file, line, "error fix without pattern or fix; skipped")
        sink.drop("malformed error fix", where)
        return
    rid = _str(record, "id")
    if rid.startswith("test-") or re.search(r"\bthis is a test\b", _str(record, "fix"), re.I):
        sink.drop("test placeholder record", f"{where} {rid}")
        return
    pattern, fix = _str(record, "pattern"), _str(record, "fix")
    wrong, _ = decode_escaped(_str(record, "wrong_example"))
    right, _ = decode_escaped(_str(record, "code_example"))
    imports = tuple(_strs(record, "imports"))
    question = f"Gerbil Scheme gives me this error: `{pattern}`. What is wrong?"
    if wrong:
        question += "\n\n" + scheme_block(wrong)
    answer = fix + ("\n\n" + scheme_block(right) if right else "")
    blocks = tuple(b for b in (CodeBlock(wrong, imports, "question") if wrong else None,
                               CodeBlock(right, imports) if right else None) if b)
    sink.add(chat(question, answer, Provenance("error-fixes", file, line, None, f"error-fix:{rid}"), code=blocks))


def from_resource(path: Path, sink: Sink, shown: str) -> None:
    """A resource guide: one Q/A entry per section that has code."""
    text = read_text(path, sink, shown)
    if text is None:
        return
    for section in split_sections(text):
        if section.unclosed_fence:
            sink.warn(shown, section.unclosed_fence, "code fence never closed; section skipped")
            sink.drop("unclosed code fence", f"{shown}:{section.unclosed_fence}")
            continue
        code = [c for c in section.code if c.lang in ("scheme", "gerbil", "")]
        if not section.heading or not code:
            continue
        topic = " / ".join([*section.parents[1:], section.heading]) if section.parents else section.heading
        topic = re.sub(r"`", "", topic)
        question = f"Explain {topic} in Gerbil Scheme, with examples."
        sink.add(
            chat(
                question,
                render(section),
                Provenance("resources", shown, section.line, None, f"resource:{shown}#{section.heading}"),
                code=tuple(CodeBlock(c.code) for c in code),
            )
        )
