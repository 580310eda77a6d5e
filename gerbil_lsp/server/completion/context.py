"""Repo-level context for the prompt: what the file imports, and files the user touched lately.

Both are cached so that building a prompt on a keystroke costs a dict lookup:
the signatures are keyed by the text of the file's ``(import ...)`` forms (they
only change when the imports do), recent files are snapshots taken when their
version changes.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from urllib.parse import unquote, urlparse

from gerbil_lsp.core.reader import read_source
from gerbil_lsp.server.completion.prompt import ContextFile

IMPORT_RE = re.compile(r"^[ \t]*\(import\b", re.M)
MAX_IMPORT_FORM = 8000  # characters read from each (import ...) form
MAX_NAMES_PER_MODULE = 400


def import_forms_text(text: str, known: list[str] | None = None) -> str:
    """The source of the file's top-level ``(import ...)`` forms, joined (the cache key).

    ``known`` holds form texts read before: a closed form whose text is still
    there, unchanged, is that form again, so it is not read a second time.
    """
    parts = []
    for match in IMPORT_RE.finditer(text):
        start = match.end() - len("(import")
        hit = next((f for f in known or () if text.startswith(f, start)), None)
        if hit is not None:
            parts.append(hit)
            continue
        size = 512  # import forms are short: read a small window, grow it only when the form is longer
        while True:
            chunk = text[start: start + size]
            result = read_source(chunk)
            form = result.forms[0] if result.forms else None
            if form is not None and (form.closed or size >= MAX_IMPORT_FORM or len(chunk) < size):
                parts.append(result.text_of(form))
                if form.closed and known is not None:
                    known.insert(0, parts[-1])
                    del known[16:]
                break
            if form is None or size >= MAX_IMPORT_FORM:
                break
            size *= 2
    return "\n".join(parts)


def signature_lines(index, imports_text: str, path: str | None) -> str:
    """Gerbil text listing each imported module's exports with their signatures."""
    if not imports_text or index is None:
        return ""
    specs = index.file_imports(read_source(imports_text), path)
    lines: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.module is None or spec.module in seen or getattr(spec, "phase", 0) != 0:
            continue
        seen.add(spec.module)
        visible = spec.apply(index.exports(spec.module))
        if not visible:
            continue
        lines.append(f";; {spec.module}")
        for name in sorted(visible)[:MAX_NAMES_PER_MODULE]:
            symbol = index.get(spec.module, visible[name])
            signatures = list(symbol.signatures) if symbol is not None and symbol.signatures else []
            if signatures and name == visible[name]:
                lines.extend(signatures)
            else:
                lines.append(name if not signatures else f"{name} ; = {signatures[0]}")
    return "\n".join(lines) + ("\n" if lines else "")


class ImportSignatures:
    """``signature_lines`` with a small cache keyed by the import forms' text."""

    def __init__(self, index=None, size: int = 32) -> None:
        self.index = index
        self._cache: OrderedDict[tuple[str, str | None], str] = OrderedDict()
        self._size = size
        self._forms: list[str] = []

    def for_text(self, text: str, path: str | None) -> str:
        if self.index is None:
            return ""
        key = (import_forms_text(text, self._forms), path)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        value = signature_lines(self.index, key[0], path)
        self._cache[key] = value
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return value


def uri_path(uri: str) -> str | None:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else None


def display_path(uri: str, root: str | None) -> str:
    """A short, stable path for the model: relative to the workspace root when inside it."""
    path = uri_path(uri) or uri
    if root:
        base = root.rstrip("/") + "/"
        if path.startswith(base):
            return path[len(base):]
    return path.rsplit("/", 1)[-1]


class RecentFiles:
    """Snapshots of the Gerbil documents the user worked in lately (most recent first)."""

    def __init__(self, limit: int = 8, max_chars: int = 64_000) -> None:
        self.limit = limit
        self.max_chars = max_chars
        self._files: OrderedDict[str, tuple[int | None, str, float]] = OrderedDict()

    def touch(self, uri: str, text: str, version: int | None) -> None:
        """Record ``uri`` as just worked in; snapshot it when its version changed."""
        known = self._files.get(uri)
        if known is None or known[0] != version or version is None:
            self._files[uri] = (version, text[: self.max_chars], time.monotonic())
        self._files.move_to_end(uri)
        while len(self._files) > self.limit:
            self._files.popitem(last=False)

    def seen(self, uri: str, text: str, version: int | None) -> None:
        """Like ``touch`` but only when the version moved (an open document edited elsewhere)."""
        known = self._files.get(uri)
        if known is not None and known[0] == version:
            return
        self.touch(uri, text, version)

    def others(self, uri: str, root: str | None, limit: int = 4) -> list[ContextFile]:
        out = []
        for other in reversed(self._files):
            if other == uri or not other.endswith((".ss", ".scm", ".sld", ".ssi")):
                continue
            out.append(ContextFile(display_path(other, root), self._files[other][1]))
            if len(out) >= limit:
                break
        return out
