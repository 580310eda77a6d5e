"""Watch the opted-in workspaces' Gerbil files and harvest each one shortly after it is saved.

watchdog reports the file system events; a save is debounced (an editor's
save is often several events: write, close, rename over) and then the file is
compared with its last harvested version (:mod:`file_harvest`). On start, and
whenever a folder appears, the tree is scanned, so saves made while the
harvester was not running are caught up, never lost.

Skipped: git-ignored paths (``git check-ignore`` in a repository, the
``.gitignore`` through ``pathspec`` elsewhere), ``harvest.exclude`` (build
output: ``.gerbil/``, ``build/``), binaries, files over ``harvest.max_file_kb``.
Symlinks are not followed when walking, so a link loop cannot trap the scan.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pathspec
from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from gerbil_lsp.harvest.file_harvest import ErrorCheck, HarvestOutcome, harvest_file
from gerbil_lsp.harvest.privacy import HarvestPolicy, WorkspacePolicy, is_gerbil_file
from gerbil_lsp.harvest.store import HarvestStore

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.2


class IgnoreRules:
    """git's own idea of ignored files for one workspace root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.git_root = self._git_toplevel(root)
        self._spec: pathspec.PathSpec | None = None
        if self.git_root is None:
            gitignore = root / ".gitignore"
            if gitignore.is_file():
                lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
                self._spec = pathspec.GitIgnoreSpec.from_lines(lines)

    @staticmethod
    def _git_toplevel(root: Path) -> Path | None:
        try:
            done = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                                  capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return Path(done.stdout.strip()).resolve() if done.returncode == 0 and done.stdout.strip() else None

    def ignored(self, paths: Iterable[str]) -> set[str]:
        """Which of ``paths`` (absolute) are ignored."""
        paths = list(paths)
        if not paths:
            return set()
        if self.git_root is not None:
            try:
                done = subprocess.run(
                    ["git", "-C", str(self.git_root), "check-ignore", "--stdin", "-z"],
                    input="\0".join(paths) + "\0", capture_output=True, text=True, timeout=30,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.warning("git check-ignore failed (%s); treating files as not ignored", exc)
                return set()
            # exit 1 = none ignored; 128 = a fatal error (say, a path outside the repository)
            if done.returncode not in (0, 1):
                log.warning("git check-ignore: %s", done.stderr.strip())
                return set()
            return {Path(p).as_posix() if os.path.isabs(p) else str(self.git_root / p)
                    for p in done.stdout.split("\0") if p}
        if self._spec is None:
            return set()
        out = set()
        for p in paths:
            try:
                rel = Path(p).relative_to(self.root).as_posix()
            except ValueError:
                continue
            if self._spec.match_file(rel):
                out.add(p)
        return out


def gerbil_files(root: Path) -> Iterable[Path]:
    """Every Gerbil file under ``root``; symlinked folders are not entered (no loops)."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if d not in (".git", ".gerbil")]
        for name in files:
            if is_gerbil_file(name):
                yield Path(folder) / name


class _Events(FileSystemEventHandler):
    def __init__(self, watcher: WorkspaceWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._handle(event)
        except Exception:  # a watcher thread must never die on one odd event
            log.exception("harvest watcher: event %s", event)

    def _handle(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        if isinstance(event, FileMovedEvent):
            dest = os.fsdecode(event.dest_path)
            if is_gerbil_file(src) and is_gerbil_file(dest):
                self.watcher.store.rename_file(str(Path(src).resolve()), str(Path(dest).resolve()))
            if is_gerbil_file(dest):
                self.watcher.schedule(dest)
        elif isinstance(event, (DirCreatedEvent, DirMovedEvent)):
            self.watcher.schedule_scan(os.fsdecode(event.dest_path) if isinstance(event, DirMovedEvent) else src)
        elif isinstance(event, (FileModifiedEvent, FileClosedEvent, FileCreatedEvent)) and is_gerbil_file(src):
            self.watcher.schedule(src)


class WorkspaceWatcher:
    """Watches every enabled workspace of a policy and harvests saved Gerbil files."""

    def __init__(self, store: HarvestStore, policy: HarvestPolicy, *, debounce_s: float = DEBOUNCE_S,
                 error_check: ErrorCheck | None = None,
                 on_harvest: Callable[[HarvestOutcome], None] | None = None) -> None:
        self.store = store
        self.policy = policy
        self.debounce_s = debounce_s
        self.error_check = error_check
        self.on_harvest = on_harvest
        self._due: dict[str, float] = {}
        self._scans: list[str] = []
        self._cond = threading.Condition()
        self._stopped = False
        self._observer = Observer()
        self._ignore: dict[Path, IgnoreRules] = {}
        self._thread = threading.Thread(target=self._run, name="harvest-watcher", daemon=True)
        self.harvested = 0  # files looked at, for status

    # ------------------------------------------------------------------ control

    def start(self, *, catch_up: bool = True) -> None:
        for policy in self.policy.workspaces:
            if not policy.enabled or not policy.root.is_dir():
                continue
            self._ignore[policy.root] = IgnoreRules(policy.root)
            self._observer.schedule(_Events(self), str(policy.root), recursive=True)
            if catch_up:
                self._scans.append(str(policy.root))
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._observer.stop()
        self._observer.join(timeout=5)
        self._thread.join(timeout=10)

    def schedule(self, path: str) -> None:
        with self._cond:
            self._due[path] = time.monotonic() + self.debounce_s
            self._cond.notify_all()

    def schedule_scan(self, folder: str) -> None:
        with self._cond:
            self._scans.append(folder)
            self._cond.notify_all()

    def idle(self) -> bool:
        """Nothing waiting (for tests and the benchmark)."""
        with self._cond:
            return not self._due and not self._scans and not self._busy

    _busy = False

    # ------------------------------------------------------------------ work

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._scans:
                        break
                    now = time.monotonic()
                    if self._due:
                        wait = min(self._due.values()) - now
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                scans, self._scans = self._scans, []
                now = time.monotonic()
                ready = [p for p, due in self._due.items() if due <= now]
                for p in ready:
                    del self._due[p]
                self._busy = True
            try:
                for folder in scans:
                    ready.extend(str(p) for p in gerbil_files(Path(folder)))
                self._harvest(sorted(set(ready)))
            except Exception:
                log.exception("harvest watcher")
            finally:
                with self._cond:
                    self._busy = False

    def _harvest(self, paths: list[str]) -> None:
        by_policy: dict[Path, list[str]] = {}
        policies: dict[Path, WorkspacePolicy] = {}
        for raw in paths:
            resolved = str(Path(raw).resolve())
            policy = self.policy.policy_for(resolved)
            if policy is None or not policy.allows(resolved):
                continue
            by_policy.setdefault(policy.root, []).append(resolved)
            policies[policy.root] = policy
        for root, files in by_policy.items():
            rules = self._ignore.get(root) or self._ignore.setdefault(root, IgnoreRules(root))
            ignored = rules.ignored(files)
            max_bytes = policies[root].settings.max_file_kb * 1024
            for path in files:
                if path in ignored:
                    continue
                outcome = harvest_file(self.store, path, max_bytes=max_bytes, error_check=self.error_check)
                self.harvested += 1
                if self.on_harvest is not None:
                    self.on_harvest(outcome)
