"""Every code block must read cleanly with the Gerbil reader (the core one the server uses)."""

from __future__ import annotations

from gerbil_lsp.data.entries import Entry


def problem_of(result) -> str | None:
    """``None`` if a reader result has no errors, else its first error with its line."""
    if not result.errors:
        return None
    error = result.errors[0]
    span = getattr(error, "span", None)
    where = f"line {span.start.line + 1}: " if span is not None else ""
    return f"{where}{getattr(error, 'message', error)}"


def read_problem(code: str) -> str | None:
    """``None`` if the code reads cleanly, else the first reader error with its line."""
    from gerbil_lsp.core.reader import read_source

    return problem_of(read_source(code))


def unreadable(entry: Entry) -> str | None:
    """Why an entry's code does not read, or ``None``."""
    for block in entry.code:
        problem = read_problem(block.code)
        if problem:
            return problem
    return None
