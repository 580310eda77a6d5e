"""Work done ahead in a second process, where the result does not depend on who computes it.

Some work starts early (or is handed off) and runs alongside the main line of the build:

* :class:`FileSources`: the sources that read a source tree's files and need
  no symbol index (``*-test.ss`` test cases, FIM holes) run while this process
  builds the index and reads the docs; their sink is merged back in the order
  the sources run in, as if they had run here.
* :class:`TextWork`: the eval overlap check and the MinHash sketches of the
  dedupe look only at each chat entry's text, so they start on the texts the
  sources made while this process scrubs and checks them; an entry whose text
  the scrub or a rename changed is simply done again when asked for.
* :class:`Alongside`: one call handed off, such as drawing the length
  histogram (matplotlib) while this process renders the JSON files.

Everything here is a pure function of its inputs, so the build's output does
not depend on whether a second process ran. One is used only where it is cheap
and safe: Linux's ``fork`` start method, more than one CPU, and no other threads in
this process (forking a threaded process can deadlock), and not turned off
with ``GERBIL_LSP_DATA_PARALLEL=0``. Otherwise, or if the worker fails, the work
is done here, when first needed.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gerbil_lsp.data.dedupe import NUM_PERM, Signatures, sketch_matrix
from gerbil_lsp.data.heldout import eval_overlap_check
from gerbil_lsp.data.reads import Reads
from gerbil_lsp.data.sources import Sink


def _overlap_verdicts(texts: list[str]) -> list[bool] | None:
    check = eval_overlap_check()
    return [check(t) for t in texts] if check is not None else None


def _work(texts: list[str]) -> tuple[list[bool] | None, np.ndarray]:
    return _overlap_verdicts(texts), sketch_matrix(texts)


#: set to ``0`` to keep all the work in one process
PARALLEL_ENV = "GERBIL_LSP_DATA_PARALLEL"


def _can_fork() -> bool:
    return (
        os.environ.get(PARALLEL_ENV, "1") != "0"
        and sys.platform.startswith("linux")  # macOS has fork, but forked children there can crash in system libraries
        and "fork" in multiprocessing.get_all_start_methods()
        and (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
    )


def _fork_pool() -> ProcessPoolExecutor | None:
    """A one-worker pool in a forked process, or ``None`` where that is not cheap and safe."""
    if not _can_fork():
        return None
    try:
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    except Exception:
        return None


def _file_sources(roots: list[tuple[Path, str]], seed: int, version: str | None) -> tuple:
    from gerbil_lsp.data.sources import fim as fim_source
    from gerbil_lsp.data.sources import source_tree

    reads = Reads()
    tests = Sink()
    source_tree.from_tests(roots, tests, version=version, reads=reads)
    files = Sink()
    fim_source.from_files(roots, files, seed=seed, version=version, reads=reads)
    # the checks read every FIM entry's file again: send the verdicts along
    verdicts = reads.problems({b.code for e in files.entries for b in e.code})
    # and the definitions source wants each file's top-level forms: read here already
    forms = {text: source_tree.forms_by_line(text, reads) for text in reads.texts()}
    return tests.state(), files.state(), verdicts, forms


class FileSources:
    """``from_tests`` then ``from_files`` over the roots, started now (in a second process if it helps)."""

    def __init__(self, roots: list[tuple[Path, str]], *, seed: int, version: str | None = None,
                 parallel: bool = True) -> None:
        self.roots, self.seed, self.version = roots, seed, version
        self._pool = _fork_pool() if parallel and roots else None
        self._future: Future | None = None
        self._result_value = None
        if self._pool is not None:
            try:
                self._future = self._pool.submit(_file_sources, roots, seed, version)
            except Exception:
                self.close()

    def _result(self):
        if self._future is not None and self._result_value is None:
            try:
                self._result_value = self._future.result()
            except Exception:  # the worker failed: run the sources here instead
                self._result_value = None
                self.close()
        return self._result_value

    def forms(self) -> dict[str, dict[int, str]]:
        """Top-level forms by start line (:func:`~gerbil_lsp.data.sources.source_tree.forms_by_line`)
        of every file the worker read, by text (waits for it; nothing when there is no worker).

        The worker reads every file for the FIM holes anyway; the definitions
        source then needs no read of its own.
        """
        result = self._result()
        return result[3] if result is not None else {}

    def into(self, sink: Sink, reads: Reads | None = None) -> None:
        """Put what the sources made into ``sink``, as running them here in order would."""
        result = self._result()
        self.close()
        if result is None:
            from gerbil_lsp.data.sources import fim as fim_source
            from gerbil_lsp.data.sources import source_tree

            source_tree.from_tests(self.roots, sink, version=self.version, reads=reads)
            fim_source.from_files(self.roots, sink, seed=self.seed, version=self.version, reads=reads)
            return
        tests, files, verdicts, _forms = result
        sink.absorb(tests)
        sink.absorb(files)
        if reads is not None:
            reads.learn(verdicts)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._future = None


class TextWork:
    """Overlap verdicts and MinHash rows for chat texts, started early where a second process helps."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], *, parallel: bool = True) -> None:
        self._texts = list(texts)
        self._ids = list(ids)
        self._verdicts: dict[str, bool] | None = None  # None: not known (yet)
        self._rows: dict[str, np.ndarray] = {}
        self._future: Future | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._collected = False
        self._no_eval = False  # the worker found no eval part
        if parallel and self._texts:
            self._pool = _fork_pool()
        if self._pool is not None:
            try:
                self._future = self._pool.submit(_work, self._texts)
            except Exception:  # no second process: everything is done here when asked for
                self._shutdown()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._future = None

    def _collect(self) -> None:
        if self._collected:
            return
        self._collected = True
        if self._future is None:
            return
        try:
            verdicts, matrix = self._future.result()
        except Exception:  # the worker failed: everything is done here instead
            self._shutdown()
            return
        if matrix.shape == (len(self._texts), NUM_PERM):
            self._rows = {i: matrix[n] for n, i in enumerate(self._ids)}
            if verdicts is not None:
                self._verdicts = dict(zip(self._texts, verdicts, strict=True))
            else:
                self._verdicts = {}  # the worker has no eval part: nothing overlaps
                self._no_eval = True

    def overlaps(self, texts: Sequence[str]) -> list[bool] | None:
        """Whether each text overlaps an eval held-out question (``None`` without the eval part)."""
        self._collect()
        if self._no_eval:
            return None
        known = self._verdicts or {}
        todo = list(dict.fromkeys(t for t in texts if t not in known))
        if todo:
            fresh = None
            if self._pool is not None:  # the worker has the eval part loaded already
                try:
                    fresh = self._pool.submit(_overlap_verdicts, todo).result()
                except Exception:
                    fresh = None
            if fresh is None:
                fresh = _overlap_verdicts(todo)
                if fresh is None:
                    return None
            known = {**known, **dict(zip(todo, fresh, strict=True))}
        return [known[t] for t in texts]

    def signatures(self, entries: Sequence) -> Signatures:
        """:func:`~gerbil_lsp.data.dedupe.signatures` of the entries, reusing the rows made ahead.

        A row made ahead is used for an id only: the same id is the same
        messages, hence the same text.
        """
        self._collect()
        self._shutdown()
        chats = sorted({e.id: e for e in entries if e.kind == "chat"}.values(), key=lambda e: e.id)
        missing = [e for e in chats if e.id not in self._rows]
        rows = dict(self._rows)
        if missing:
            fresh = sketch_matrix([e.text() for e in missing])
            rows.update({e.id: fresh[n] for n, e in enumerate(missing)})
        ids = [e.id for e in chats]
        matrix = np.stack([rows[i] for i in ids]) if ids else np.empty((0, NUM_PERM), dtype=np.uint32)
        return Signatures(ids, matrix)

    def close(self) -> None:
        self._shutdown()


class Alongside:
    """One function call in a second process (or here, when :meth:`result` is asked for)."""

    def __init__(self, fn, *args) -> None:
        self._fn, self._args = fn, args
        self._pool = _fork_pool()
        self._future: Future | None = None
        if self._pool is not None:
            try:
                self._future = self._pool.submit(fn, *args)
            except Exception:
                self.close()

    def result(self):
        try:
            if self._future is not None:
                try:
                    return self._future.result()
                except Exception:  # the worker failed: do it here
                    pass
            return self._fn(*self._args)
        finally:
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._future = None
