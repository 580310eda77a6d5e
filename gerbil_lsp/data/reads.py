"""Each text read once per build with the core reader, its verdict kept for the checks.

The sources read every Gerbil file (definitions, FIM holes, tests) and the
readability check reads every code block again, often the very same text (a
FIM entry's code is its whole file). A :class:`Reads` keeps the reader's
result per text while the sources run, and for good the verdict the
readability check asks for (:func:`~gerbil_lsp.data.checks.readable.problem_of`),
so nothing is read twice. The reader's result depends on the text alone, and
nothing here changes a result it hands out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gerbil_lsp.core.reader import ReadResult


class Reads:
    """Reader results by text (kept until :meth:`drop_trees`), and read problems by text (kept)."""

    def __init__(self) -> None:
        self._trees: dict[str, ReadResult] = {}
        self._problems: dict[str, str | None] = {}

    def read(self, text: str) -> ReadResult:
        """The core reader's result for ``text`` (shared: do not change it)."""
        result = self._trees.get(text)
        if result is None:
            from gerbil_lsp.core.reader import read_source
            from gerbil_lsp.data.checks.readable import problem_of

            result = self._trees[text] = read_source(text)
            self._problems[text] = problem_of(result)
        return result

    def problem(self, text: str) -> str | None:
        """``None`` if ``text`` reads cleanly, else its first reader error with its line."""
        if text in self._problems:
            return self._problems[text]
        self.read(text)
        return self._problems[text]

    def texts(self) -> list[str]:
        """The texts whose trees are kept."""
        return list(self._trees)

    def problems(self, texts) -> dict[str, str | None]:
        """The known verdicts of these texts (for :meth:`learn` in another :class:`Reads`)."""
        return {t: self._problems[t] for t in texts if t in self._problems}

    def learn(self, problems: dict[str, str | None]) -> None:
        """Take verdicts found elsewhere (by the same reader, on the same texts)."""
        for text, problem in problems.items():
            self._problems.setdefault(text, problem)

    def drop_trees(self) -> None:
        """Let the syntax trees go (the problems stay)."""
        self._trees.clear()


def read_with(reads: Reads | None, text: str) -> ReadResult:
    """``reads.read(text)``, or a plain read when there is no shared :class:`Reads`."""
    if reads is not None:
        return reads.read(text)
    from gerbil_lsp.core.reader import read_source

    return read_source(text)
