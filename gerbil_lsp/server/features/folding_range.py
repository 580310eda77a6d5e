"""textDocument/foldingRange: each list that spans lines, and each run of comment lines."""

from __future__ import annotations

from lsprotocol import types

MAX_RANGES = 5000  # a generated file's hundred thousand lists would only slow the editor down


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
    def folding_range(params: types.FoldingRangeParams) -> list[types.FoldingRange] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        return _comment_runs(analysis.result.comments) + _lists(analysis.result.forms)


def _lists(forms: list) -> list[types.FoldingRange]:
    out: list[types.FoldingRange] = []
    stack = list(reversed(forms))
    while stack and len(out) < MAX_RANGES:
        node = stack.pop()
        if not node.children:
            continue
        line, _, end_line, _ = node.line_columns()
        if end_line > line:  # a list on one line has nothing to fold, nor have its children
            out.append(types.FoldingRange(start_line=line, end_line=end_line))
            stack.extend(reversed(node.children))
    return out


def _comment_runs(comments: list) -> list[types.FoldingRange]:
    """Comments on consecutive lines fold together (a block comment over lines folds by itself)."""
    runs: list[list[int]] = []  # [first line, last line]
    for span in comments:
        if runs and span.start.line <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], span.end.line)
        else:
            runs.append([span.start.line, span.end.line])
    return [types.FoldingRange(start_line=first, end_line=last, kind=types.FoldingRangeKind.Comment)
            for first, last in runs if last > first]
