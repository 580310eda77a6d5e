"""textDocument/formatting, rangeFormatting and onTypeFormatting: Lisp indentation, nothing else.

Only the whitespace at the start of lines changes (and, when the editor asks,
trailing whitespace and final newlines), never the code, so formatting cannot
change what a file means. A file that does not read cleanly is refused with the
first error's place: re-indenting around a missing paren would move every line
after it. A newline typed in an unfinished form is still indented (onType).
"""

from __future__ import annotations

import functools
import os
from bisect import bisect_left

from lsprotocol import types

from gerbil_lsp.core.indent import (
    BodyArguments,
    Indenter,
    LineIndent,
    body_position,
    indent_line,
    signature_body_position,
)
from gerbil_lsp.core.reader import ReadResult
from gerbil_lsp.server.analysis import Analysis
from gerbil_lsp.server.features.refusals import Refused, keep_refusals_out_of_the_log


def refusal(analysis: Analysis, before_line: int | None = None) -> str | None:
    """Why the file cannot be formatted (up to ``before_line``); None: it can."""
    result = analysis.result
    name = os.path.basename(analysis.path) if analysis.path else analysis.uri
    if not result.plain_syntax:
        return f"{name} is read by `#lang {result.lang}`, which may have its own syntax: it is not formatted"
    for error in result.errors:
        if before_line is None or error.span.start.line <= before_line:
            return f"{name}:{error.span.start.line + 1}: {error.message}: fix this first, then format"
    return None


def known_bodies(analysis: Analysis) -> BodyArguments:
    """Where the body of a macro the file defines or imports starts: by its pattern, else its documented signature."""

    @functools.cache
    def known(head: str) -> int | None:
        _, plan, _ = analysis.macros.plan(head, None)
        for clause in plan.clauses if plan is not None else ():
            position = body_position(clause.pattern)
            if position is not None:
                return position
        symbol = analysis.visible.get(head)
        for signature in symbol.signatures if symbol is not None else ():
            position = signature_body_position(signature)
            if position is not None:
                return position
        return None

    return known


def line_edit(change: LineIndent) -> types.TextEdit:
    return types.TextEdit(range=types.Range(start=types.Position(line=change.line, character=0),
                                            end=types.Position(line=change.line, character=change.old)),
                          new_text=change.whitespace)


def whitespace_edits(indenter: Indenter, options: types.FormattingOptions, first: int, last: int) -> list[types.TextEdit]:
    """Trailing whitespace and final newlines, as the editor's options ask (never inside a string)."""
    result: ReadResult = indenter.result
    text, lines = result.text, result.lines
    edits = []
    if options.trim_trailing_whitespace:
        verbatim = indenter.verbatim
        for line in range(first, last + 1):
            end = lines.line_end(line)
            content = text[lines.line_start(line):end]
            kept = len(content.rstrip(" \t\f"))
            if kept == len(content) or _inside(verbatim, end):
                continue
            edits.append(types.TextEdit(range=types.Range(start=_position(lines, end - len(content) + kept),
                                                          end=_position(lines, end)), new_text=""))
    if last >= lines.line_count - 1:
        body = text.rstrip("\r\n")
        if options.trim_final_newlines and len(text) - len(body) > 1:
            newline = "\r\n" if text.endswith("\r\n", len(body)) else text[len(body)]
            edits.append(types.TextEdit(range=types.Range(start=_position(lines, len(body)),
                                                          end=_position(lines, len(text))), new_text=newline))
        elif options.insert_final_newline and text and body == text:
            end = _position(lines, len(text))
            edits.append(types.TextEdit(range=types.Range(start=end, end=end), new_text="\n"))
    return edits


def _inside(spans: list[tuple[int, int]], offset: int) -> bool:
    """Whether ``offset`` falls inside one of the sorted, disjoint ``spans``."""
    at = bisect_left(spans, (offset,)) - 1
    return at >= 0 and spans[at][0] < offset < spans[at][1]


def _position(lines, offset: int) -> types.Position:
    pos = lines.pos(offset)
    return types.Position(line=pos.line, character=pos.character)


def edits_for(analysis: Analysis, options: types.FormattingOptions, first: int = 0,
              last: int | None = None) -> list[types.TextEdit]:
    last = analysis.result.lines.line_count - 1 if last is None else last
    indenter = Indenter(analysis.result, options.tab_size, not options.insert_spaces, first, last,
                        known_bodies(analysis))
    return [line_edit(c) for c in indenter.lines_to_change()] + \
        whitespace_edits(indenter, options, first, last)


def register(server) -> None:
    keep_refusals_out_of_the_log()

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        reason = refusal(analysis)
        if reason is not None:
            raise Refused(reason)
        return edits_for(analysis, params.options)

    @server.feature(types.TEXT_DOCUMENT_RANGE_FORMATTING)
    def range_formatting(params: types.DocumentRangeFormattingParams) -> list[types.TextEdit] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        first, end = params.range.start.line, params.range.end
        last = end.line - 1 if end.character == 0 and end.line > first else end.line  # a selection of whole lines
        reason = refusal(analysis, before_line=last)
        if reason is not None:
            raise Refused(reason)
        return edits_for(analysis, params.options, first, last)

    @server.feature(types.TEXT_DOCUMENT_ON_TYPE_FORMATTING,
                    types.DocumentOnTypeFormattingOptions(first_trigger_character="\n"))
    def on_type_formatting(params: types.DocumentOnTypeFormattingParams) -> list[types.TextEdit] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None or not analysis.result.plain_syntax or params.ch != "\n":
            return None
        change = indent_line(analysis.result, params.position.line, params.options.tab_size,
                             not params.options.insert_spaces, known_bodies(analysis))
        return [line_edit(change)] if change is not None else []
