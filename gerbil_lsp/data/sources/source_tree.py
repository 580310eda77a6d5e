"""A Gerbil source tree and users' own projects.

Per exported definition (as the symbol index found it in the tree): what it
does (its leading comments), how to call it (its signature) and which module
to import. ``*-test.ss`` files give usage examples: each ``test-case`` with the
file's imports. The definitions themselves come from the index, so what we
teach is exactly what the server completes and checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from gerbil_lsp.data.entries import CodeBlock, Provenance, chat, scheme_block
from gerbil_lsp.data.reads import Reads, read_with
from gerbil_lsp.data.sources import Sink, read_text

MAX_DEFINITION_LINES = 40
_COMMENT = re.compile(r"^\s*;+\s?(.*)$")


def leading_comment(lines: list[str], line: int) -> str:
    """The ``;`` comment lines right above 0-based ``line`` (blank line ends them)."""
    out: list[str] = []
    i = line - 1
    while i >= 0:
        m = _COMMENT.match(lines[i])
        if not m:
            break
        out.append(m.group(1).rstrip())
        i -= 1
    text = "\n".join(reversed(out)).strip()
    return "" if re.fullmatch(r"[-=*;#\s]*", text) else text


def forms_by_line(text: str, reads: Reads | None = None) -> dict[int, str]:
    """Top-level forms by their 0-based start line, read once with the core reader."""
    result = read_with(reads, text)
    return {form.span.start.line: result.text_of(form) for form in result.forms}


class FileCache:
    """Each file's text, lines and top-level forms, made once however many definitions it holds."""

    def __init__(self, sink: Sink, reads: Reads | None = None,
                 forms: Mapping[str, dict[int, str]] | None = None) -> None:
        self.sink = sink
        self.reads = reads
        self.known_forms = forms or {}  # forms_by_line of texts read elsewhere already, by text
        self._texts: dict[str, str | None] = {}
        self._lines: dict[str, list[str]] = {}
        self._forms: dict[str, dict[int, str]] = {}

    def text(self, path: str) -> str | None:
        if path not in self._texts:
            self._texts[path] = read_text(Path(path), self.sink)
        return self._texts[path]

    def lines(self, path: str) -> list[str]:
        lines = self._lines.get(path)
        if lines is None:
            lines = self._lines[path] = (self.text(path) or "").splitlines()
        return lines

    def form_at(self, path: str, line: int) -> str | None:
        if path not in self._forms:
            text = self.text(path)
            known = self.known_forms.get(text) if text else None
            self._forms[path] = known if known is not None else forms_by_line(text, self.reads) if text else {}
        return self._forms[path].get(line)


def from_index(index, roots: list[tuple[Path, str]], sink: Sink, *, version: str | None = None,
               reads: Reads | None = None, forms: Mapping[str, dict[int, str]] | None = None) -> None:
    """Entries for every exported definition the index found under ``roots`` ((path, source label)).

    ``forms``: :func:`forms_by_line` of file texts already read elsewhere, by text.
    """
    resolved = [(root.resolve(), label) for root, label in roots]
    cache = FileCache(sink, reads, forms)
    seen: set[tuple[str, str]] = set()
    # many definitions share a file: resolve each path and find its root once
    located: dict[str, tuple[Path, tuple[Path, str, str] | None]] = {}
    for module in index.modules():
        for name in sorted(index.exports(module)):
            sym = index.get(module, name)
            if sym is None or not sym.source_path or sym.source_line is None or (module, sym.name) in seen:
                continue
            place = located.get(sym.source_path)
            if place is None:
                path = Path(sym.source_path).resolve()
                owner = next(((root, label, path.relative_to(root).as_posix())
                              for root, label in resolved if path.is_relative_to(root)), None)
                place = located[sym.source_path] = (path, owner)
            path, owner = place
            if owner is None:
                continue
            seen.add((module, sym.name))
            definition_entry(sym, module, path, owner, cache, sink, version)


def definition_entry(sym, module: str, path: Path, owner, cache: FileCache, sink: Sink, version) -> None:
    """The entry for one exported definition; ``owner``: (root, source label[, path relative to root])."""
    root, label, *known_rel = owner
    text = cache.text(str(path))
    if text is None:
        return
    rel = known_rel[0] if known_rel else path.relative_to(root).as_posix()
    lines = cache.lines(str(path))
    comment = leading_comment(lines, sym.source_line) if sym.source_line < len(lines) else ""
    definition = cache.form_at(str(path), sym.source_line) or ""
    prov = Provenance(label, rel, sym.source_line + 1, version, f"{label}:{rel}")
    signature = "\n".join(sym.signatures) if sym.signatures else ""
    parts = [f"Import it with `(import {module})`."]
    if signature:
        parts.append("Call it as:\n\n" + scheme_block(signature))
    if comment:
        parts.append(comment)
    elif sym.description:
        parts.append(sym.description.strip())
    code: tuple[CodeBlock, ...] = ()
    if definition and definition.count("\n") < MAX_DEFINITION_LINES:
        parts.append(f"Its definition in `{rel}`:\n\n" + scheme_block(definition))
        code = (CodeBlock(definition, (module,), "answer"),)
    if not comment and not sym.description and not signature and not code:
        sink.drop("definition without comment, signature or code", prov.where())
        return
    question = (
        f"What does `{sym.name}` do in Gerbil Scheme, how do I call it, and which module do I import?"
        if comment or sym.description
        else f"How do I call `{sym.name}` in Gerbil Scheme, and which module do I import?"
    )
    sink.add(chat(question, "\n\n".join(parts), prov, code=code, claims=((sym.name, module),),
                  tags=("source",)))


def test_files(roots: list[tuple[Path, str]]) -> list[tuple[Path, Path, str]]:
    out = []
    for root, label in roots:
        for path in sorted(Path(root).rglob("*-test.ss")):
            out.append((root, path, label))
    return out


def from_tests(roots: list[tuple[Path, str]], sink: Sink, *, version: str | None = None,
               reads: Reads | None = None) -> None:
    """Each ``test-case`` of the ``*-test.ss`` files as a usage example."""
    for root, path, label in test_files(roots):
        rel = path.relative_to(root).as_posix()
        text = read_text(path, sink, rel)
        if text is None:
            continue
        result = read_with(reads, text)
        if result.errors:
            first = result.errors[0]
            line = getattr(getattr(first, "span", None), "start", None)
            sink.warn(rel, (line.line + 1) if line else 0, f"test file does not read cleanly: {first}; skipped")
            sink.drop("unreadable test file", rel)
            continue
        imports = [result.text_of(f) for f in result.forms if f.head == "import"]
        for node in _test_cases(result.forms):
            title = node.children[1].value if len(node.children) > 1 and node.children[1].kind.name == "STRING" else ""
            body = result.text_of(node)
            if not title or body.count("\n") > MAX_DEFINITION_LINES:
                continue
            code = "\n".join([*imports, "", body])
            sink.add(chat(
                f"Write a Gerbil test case for: {title}",
                scheme_block(code),
                Provenance(label, rel, node.span.start.line + 1, version, f"{label}:{rel}"),
                code=(CodeBlock(code, (":std/test",)),),
                tags=("test",),
            ))


def _test_cases(forms):
    for form in forms:
        for node in form.walk():
            if node.head == "test-case":
                yield node
