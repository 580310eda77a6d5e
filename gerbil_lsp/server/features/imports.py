"""The one way the server adds an import: into the file's `(import ...)` form, or a new one."""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.core.reader import NodeKind
from gerbil_lsp.server.features.positions import position_of


def add_import_edit(analysis, module: str) -> types.TextEdit:
    form = analysis.import_form()
    if form is not None and form.closed:
        at = position_of(analysis, form.end - 1)
        return types.TextEdit(range=types.Range(start=at, end=at), new_text=f" {module}")
    # No import form: put one before the first top-level form that is not a header.
    first = next((f for f in analysis.result.forms if f.kind is not NodeKind.KEYWORD), None)
    offset = first.start if first is not None else len(analysis.result.text)
    at = position_of(analysis, offset)
    at = types.Position(line=at.line, character=0)
    return types.TextEdit(range=types.Range(start=at, end=at), new_text=f"(import {module})\n")
