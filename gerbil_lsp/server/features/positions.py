"""Offsets <-> LSP positions for an analysis (UTF-16 columns, via the reader's LineIndex)."""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.core.reader import Node
from gerbil_lsp.server.analysis import Analysis

SYMBOL_CHARS = set("!$%&*/:<=>?^_~+-.@#|") | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def offset_of(analysis: Analysis, position: types.Position) -> int:
    return analysis.result.lines.offset(position.line, position.character)


def position_of(analysis: Analysis, offset: int) -> types.Position:
    pos = analysis.result.lines.pos(max(0, min(offset, len(analysis.result.text))))
    return types.Position(line=pos.line, character=pos.character)


def range_of(analysis: Analysis, start: int, end: int) -> types.Range:
    return types.Range(start=position_of(analysis, start), end=position_of(analysis, end))


def node_range(analysis: Analysis, node: Node) -> types.Range:
    return range_of(analysis, node.start, node.end)


def definition_range(local) -> types.Range:
    """The range of a top-level definition's name (a :class:`LocalDefinition`; its end may be unknown)."""
    end_line = local.end_line if local.end_line is not None else local.line
    end_character = local.end_character if local.end_character is not None else local.character
    return types.Range(start=types.Position(line=local.line, character=local.character),
                       end=types.Position(line=end_line, character=end_character))


def word_before(text: str, offset: int) -> tuple[int, str]:
    """The symbol prefix typed just before ``offset``: (start offset, prefix)."""
    start = offset
    while start > 0 and (text[start - 1] in SYMBOL_CHARS or ord(text[start - 1]) > 127):
        start -= 1
    return start, text[start:offset]


def symbol_at(analysis: Analysis, offset: int) -> Node | None:
    """The symbol node under the cursor (or just before it)."""
    for probe in (offset, offset - 1):
        if probe < 0:
            continue
        path = analysis.result.node_at(probe)
        if path and path[-1].kind.value == "symbol":
            return path[-1]
    return None
