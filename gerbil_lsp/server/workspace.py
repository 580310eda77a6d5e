"""The workspace's own modules, kept in the index as they are edited.

A Gerbil project imports its own modules (``./util``, ``:myapp/util``). Until the
index has a module's exports, a file importing it gets no unbound-name check and
no completion of those names; and a module that gained an export since
``gerbil-lsp index build`` makes each use of that export look unbound. So once
the editor has initialized, the server scans the workspace's ``.ss`` files, and
then one file again whenever the editor saves or closes it, the file changes on
disk, or its unsaved text has rested a moment after an edit (typing is never
slowed by it). Scans run on a worker thread, which only reads the index; the
event loop commits what they found. When a module's exports change, the open
files are checked again; a definition that only moved updates its location.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

from lsprotocol import types

from gerbil_lsp.core.index import ScannedModule
from gerbil_lsp.core.index.source import file_stat, skipped_folder, source_files
from gerbil_lsp.core.reader import read_source
from gerbil_lsp.server.occurrences import SearchedFile

log = logging.getLogger(__name__)
T = TypeVar("T")

#: an unsaved edit is scanned once its text has rested this long
REST_S = 1.0
#: a whole-workspace scan or search of this many files or more shows progress in the editor
PROGRESS_FROM = 50


def workspace_files(root: str, limit: int, index) -> list[str]:
    """Up to ``limit`` ``.ss`` files under ``root``, less those the index has as they are on disk.

    A file the index was built from (same path), unchanged since the index file
    was written, need not be scanned again.
    """
    built_stat = file_stat(index.source_file) if index.source_file else None
    built = built_stat.st_mtime if built_stat else None
    out: list[str] = []
    for path, stat in source_files(root):
        if built is not None and stat.st_mtime <= built and index.module_for_path(path):
            continue
        out.append(path)
        if len(out) >= limit:
            log.warning("workspace %s: indexing its first %d .ss files (index.workspace_files)", root, limit)
            break
    return out


class WorkspaceDefinition(NamedTuple):
    """A top-level definition of a workspace module, where workspace/symbol points."""

    module: str
    name: str
    kind: str
    path: str
    line: int
    character: int


def _module_rows(index, by_root: dict[str, list[str]], texts: dict[str, str], progress=None) -> dict:
    """On the worker thread, folder by folder (a module's id comes from its folder's package).

    The editor's texts are read here, so no tree the event loop edits is shared.
    """
    results = {path: read_source(text) for path, text in texts.items()}
    rows: dict = {}
    done = 0
    for root, paths in by_root.items():
        report = (lambda n, before=done: progress(before + n)) if progress is not None else None
        rows.update(index.module_rows(paths, results, root, report))
        done += len(paths)
    return rows


def _files_to_scan(roots: list[str], limit: int, index) -> list[str]:
    """:func:`workspace_files` of each folder, ``limit`` files in all."""
    out: list[str] = []
    for root in roots:
        if len(out) >= limit:
            break
        out += workspace_files(root, limit - len(out), index)
    return out


def _disk_paths(open_paths: set[str], roots: list[str], limit: int) -> list[str]:
    """The workspace's ``.ss`` files not open in the editor (the first ``limit``)."""
    if not limit:
        return []
    seen: dict[str, None] = {}  # in walk order; a folder inside another is walked twice
    for root in roots:
        for path, _ in source_files(root, limit):
            path = os.path.normpath(path)
            if path not in open_paths and path not in seen and len(seen) < limit:
                seen[path] = None
    return list(seen)


def _read_each(paths: list[str], report: Callable[[int], None] | None = None) -> Iterator[SearchedFile]:
    """Each file read as it is needed; ``report(n)`` after the n-th."""
    for done, path in enumerate(paths, 1):
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.warning("searching the workspace: cannot read %s (%s)", path, exc)
            continue
        finally:
            if report is not None:
                report(done)
        yield SearchedFile(Path(path).as_uri(), text, path)


def _under(path: str, root: str) -> bool:
    """Whether the normalised absolute ``path`` is inside the folder ``root``."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class WorkProgress:
    """Work over many files as work-done progress in the editor (``$/progress``), where it shows one."""

    def __init__(self, server, title: str, total: int) -> None:
        self.server, self.title, self.total = server, title, total
        self.token = f"gerbil-lsp-workspace-{uuid.uuid4().hex[:8]}"
        self._shown = 0
        self._ended = False  # a cancelled request ends it while its worker thread still reads

    async def begin(self) -> None:
        await self.server.work_done_progress.create_async(self.token)
        self.server.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
            title=f"gerbil-lsp: {self.title}", message=f"0/{self.total} files", percentage=0))

    def report(self, done: int) -> None:
        percentage = 100 * done // self.total
        if self._ended:
            return
        if percentage >= self._shown + 5 or done == self.total:  # a message per 5%, not per file
            self._shown = percentage
            self.server.work_done_progress.report(self.token, types.WorkDoneProgressReport(
                message=f"{done}/{self.total} files", percentage=percentage))

    def from_thread(self) -> Callable[[int], None]:
        """``report`` for a worker thread: it hands each count to the event loop."""
        loop = asyncio.get_running_loop()
        return lambda done: loop.call_soon_threadsafe(self.report, done)

    def end(self, message: str) -> None:
        self._ended = True
        self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))


class WorkspaceModules:
    """Scans the workspace into ``server.index``; a document listener for the editor's events."""

    def __init__(self, server) -> None:
        self.server = server
        self.roots: list[str] = []  # the workspace folders, absolute
        self._lock = asyncio.Lock()  # one scan at a time: each commits before the next reads
        self._resting: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        # module id -> the last scan of it (its top-level definitions, for workspace/symbol)
        self.scans: dict[str, ScannedModule] = {}

    @property
    def limit(self) -> int:
        return self.server.settings.settings.index.workspace_files

    def start(self, roots: list[str]) -> None:
        """Scan the workspace folders named by the editor (never a guessed one: it may be a home folder)."""
        if self._add(roots) and self.limit:
            self._spawn(self._scan_all(list(self.roots)))

    def folders_changed(self, added: list[str], removed: list[str]) -> None:
        """``workspace/didChangeWorkspaceFolders``: forget the modules of the folders gone, scan the new ones."""
        gone = {os.path.normpath(os.path.abspath(root)) for root in removed}
        self.roots = [root for root in self.roots if root not in gone]
        if gone:
            self._spawn(self._forget(gone))
        new = self._add(added)
        if new and self.limit:
            self._spawn(self._scan_all(new))

    def _add(self, roots: list[str]) -> list[str]:
        """The folders of ``roots`` that exist and are new, now part of the workspace."""
        new = []
        for root in roots:
            root = os.path.normpath(os.path.abspath(root))
            if os.path.isdir(root) and root not in self.roots:
                self.roots.append(root)
                new.append(root)
        return new

    def index_replaced(self) -> None:
        """The settings named another index: it gets the workspace's modules too."""
        if self.roots and self.limit:
            self._spawn(self._scan_all(list(self.roots)))

    def definitions(self) -> Iterator[WorkspaceDefinition]:
        """Every top-level definition of the workspace's modules (workspace/symbol).

        A module scanned since start-up gives all its definitions; one the index
        already had as it is on disk (not scanned again) gives its exports.
        """
        index = self.server.index
        for mid, scan in list(self.scans.items()):
            for d in scan.definitions:
                if d.path and not (d.generated_by and d.generated_by != d.name):  # not point-x of point
                    yield WorkspaceDefinition(mid, d.name, d.kind, d.path, d.line, d.character)
        if index is None:
            return
        for mid in index.modules():
            if mid in self.scans or not self.in_workspace(index.module_path(mid)):
                continue
            for name in sorted(index.exports(mid)):
                row = index.get(mid, name)
                if row is not None and row.source_path and row.source_line is not None and not row.origin:
                    yield WorkspaceDefinition(mid, name, row.kind, row.source_path, row.source_line,
                                              row.source_character or 0)

    async def search(self, job: Callable[[Iterator[SearchedFile]], T]) -> T:
        """``job`` over the workspace's ``.ss`` files that are not open in the editor, read from disk.

        It runs on a worker thread, and no scan commits meanwhile: the index it reads stays as it is.
        (The open documents are the caller's, on the event loop: their analyses are made there.)
        """
        open_paths = set(self._open_texts())
        async with self._lock:
            paths = await asyncio.to_thread(_disk_paths, open_paths, list(self.roots), self.limit)
            progress = await self._progress("searching the workspace", len(paths))
            try:
                return await asyncio.to_thread(job, _read_each(paths, progress and progress.from_thread()))
            finally:
                if progress is not None:
                    progress.end(f"{len(paths)} files")

    async def settled(self) -> None:
        """Wait for the scans under way or waiting to commit: then module ids and exports are the workspace's."""
        async with self._lock:
            pass

    # -- the editor's events (document listener) -------------------------------------------
    def on_did_open(self, uri: str, text: str, version: int) -> None:
        pass  # the initial scan, or the disk, already has it; an edit to it is followed below

    def on_did_change(self, uri: str, changes: list, version: int) -> None:
        path = self._path(uri)
        if path is None:
            return
        self._cancel_rest(path)
        self._resting[path] = asyncio.get_running_loop().call_later(REST_S, self._rested, uri, path)

    def on_did_save(self, uri: str, text: str | None) -> None:
        path = self._path(uri)
        if path is not None:
            self._cancel_rest(path)
            self._spawn(self._scan_one(path, self._editor_text(uri)))

    def on_did_close(self, uri: str) -> None:
        path = self._path(uri)
        if path is not None:
            self._cancel_rest(path)
            self._spawn(self._scan_one(path, None))  # unsaved edits are gone with the buffer: the disk's text

    def files_changed(self, events: list[types.FileEvent]) -> None:
        """``workspace/didChangeWatchedFiles``: created, changed or deleted on disk (a checkout, a build)."""
        for event in events:
            path = self._path(event.uri)
            if path is not None:
                self._spawn(self._scan_one(path, self._editor_text(event.uri)))

    # -- scanning -------------------------------------------------------------------------
    async def _scan_all(self, roots: list[str]) -> None:
        """Every ``.ss`` file of the folders ``roots`` (the index does not have as it is on disk)."""
        async with self._lock:
            index = self.server.index
            roots = [root for root in roots if root in self.roots]  # not removed meanwhile
            if index is None or not roots:
                return
            texts = {path: text for path, text in self._open_texts().items() if self._root_of(path) in roots}
            paths = await asyncio.to_thread(_files_to_scan, roots, self.limit, index)
            paths = sorted(set(paths) | set(texts))
            if not paths:
                return
            progress = await self._progress("indexing the workspace", len(paths))
            scanned: dict = {}
            try:
                scanned = await asyncio.to_thread(_module_rows, index, self._by_root(paths), texts,
                                                  progress and progress.from_thread())
                self._commit(index, paths, scanned)
            finally:
                if progress is not None:
                    progress.end(f"{len(scanned)} modules")
            log.info("workspace %s: %d of its modules scanned", ", ".join(roots), len(scanned))

    async def _progress(self, title: str, total: int) -> WorkProgress | None:
        """Progress for work over enough files to notice, when the editor shows work-done progress."""
        window = self.server.client_capabilities.window
        if total < PROGRESS_FROM or not (window and window.work_done_progress):
            return None
        progress = WorkProgress(self.server, title, total)
        try:
            await progress.begin()
        except Exception as exc:  # the editor refused the token: work without showing it
            log.info("no progress shown for %s: %s", title, exc)
            return None
        return progress

    async def _scan_one(self, path: str, text: str | None) -> None:
        """One file again: the editor's ``text`` when given, else the disk's (gone from disk: forgotten)."""
        await self._scan([path], {path: text} if text is not None else {})

    async def _scan(self, paths: list[str], texts: dict[str, str]) -> None:
        """Some files again, with the editor's texts where given."""
        async with self._lock:
            index = self.server.index
            if index is None or not self.roots:
                return
            present = [path for path in paths if path in texts or os.path.isfile(path)]
            scanned = await asyncio.to_thread(_module_rows, index, self._by_root(present), texts) if present else {}
            self._commit(index, paths, scanned)

    def _commit(self, index, paths: list[str], scanned: dict) -> None:
        """Put what a scan found into the index; check the open files again if an export changed."""
        if index is not self.server.index:
            return  # the settings switched the index meanwhile; index_replaced scans the new one
        before = {path: index.module_for_path(path) for path in paths}
        changed = [mid for mid, module in scanned.items() if index.replace_module(mid, module.rows, module.path)]
        self.scans.update((mid, module) for mid, module in scanned.items())
        renamed = {os.path.normpath(module.path) for module in scanned.values() if module.path}
        for path, old in before.items():  # deleted, or now a module of another name (its package: changed)
            if old is None or old in scanned:
                continue
            if os.path.normpath(path) in renamed or not os.path.isfile(path):
                self.scans.pop(old, None)
                if index.drop_module(old):
                    changed.append(old)
        if not changed:
            return
        self._check_open_files(changed)
        # a module that re-exports a changed one holds copies of its rows: scan it again too
        ours = [mid for mid in index.modules() if self.in_workspace(index.module_path(mid))]
        again = [index.module_path(mid) for mid in index.reexporters(set(changed), ours)]
        if again:
            texts = self._open_texts()
            self._spawn(self._scan(again, {path: texts[path] for path in again if path in texts}))

    async def _forget(self, gone: set[str]) -> None:
        """Drop the scanned modules of workspace folders that were removed (unless another folder holds them)."""
        async with self._lock:
            index = self.server.index
            changed = []
            for mid, module in list(self.scans.items()):
                path = module.path and os.path.normpath(module.path)
                if path and any(_under(path, root) for root in gone) and self.in_workspace(path) is None:
                    del self.scans[mid]
                    if index is not None and index.drop_module(mid):
                        changed.append(mid)
            if changed:
                self._check_open_files(changed)

    def _check_open_files(self, changed: list[str]) -> None:
        """Modules' exports changed: diagnose the open files again."""
        log.info("workspace modules changed: %s", ", ".join(sorted(changed)[:10]))
        from gerbil_lsp.server.features.diagnostics import schedule

        for document in list(self.server.workspace.text_documents.values()):
            schedule(self.server, document.uri, delay_ms=0)

    # -- helpers ---------------------------------------------------------------------------
    def _path(self, uri: str) -> str | None:
        """The file behind ``uri`` when it is a ``.ss`` file of the workspace, else None."""
        from gerbil_lsp.server.app import uri_to_path

        return self.in_workspace(uri_to_path(uri))

    def in_workspace(self, path: str | None) -> str | None:
        """``path``, absolute, when it is a ``.ss`` file of a workspace folder (outside build output), else None."""
        if not self.limit or path is None or not path.endswith(".ss"):
            return None
        path = os.path.normpath(os.path.abspath(path))
        root = self._root_of(path)
        if root is None or any(skipped_folder(p) for p in os.path.relpath(path, root).split(os.sep)[:-1]):
            return None
        return path

    def _root_of(self, path: str) -> str | None:
        """The workspace folder ``path`` is in (the innermost, when folders nest)."""
        inside = [root for root in self.roots if _under(path, root)]
        return max(inside, key=len) if inside else None

    def _by_root(self, paths: list[str]) -> dict[str, list[str]]:
        """``paths`` by the workspace folder each is in."""
        by_root: dict[str, list[str]] = {}
        for path in paths:
            root = self._root_of(os.path.normpath(path))
            if root is not None:
                by_root.setdefault(root, []).append(path)
        return by_root

    def _editor_text(self, uri: str) -> str | None:
        document = self.server.document(uri)
        return document.source if document is not None else None

    def _open_texts(self) -> dict[str, str]:
        out = {}
        for document in list(self.server.workspace.text_documents.values()):
            path = self._path(document.uri)
            if path is not None:
                out[path] = document.source
        return out

    def _rested(self, uri: str, path: str) -> None:
        self._resting.pop(path, None)
        text = self._editor_text(uri)
        if text is not None:
            self._spawn(self._scan_one(path, text))

    def _cancel_rest(self, path: str) -> None:
        handle = self._resting.pop(path, None)
        if handle is not None:
            handle.cancel()

    def _spawn(self, job) -> None:
        async def guarded() -> None:
            try:
                await job
            except Exception:  # a scan's failure must never break editing
                log.exception("workspace scan failed")

        try:
            task = asyncio.get_running_loop().create_task(guarded())
        except RuntimeError:  # no event loop (a test calling the server directly): nothing to follow
            job.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
