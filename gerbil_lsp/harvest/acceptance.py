"""Accepted completions: what the user kept of the model's suggestions becomes training data.

The language server calls a :class:`HarvestHooks` object at four moments:
``on_shown`` (completions offered, with the document text), ``on_did_change``
(every ``textDocument/didChange``), ``on_did_save`` and ``on_accepted`` (the
item's ``gerbil-lsp.completionAccepted`` command ran). Editors that never run
item commands (Emacs eglot) are covered by ``on_did_change``: an insertion that
puts a just-shown completion's text at its place counts as acceptance.

From acceptance on, the inserted span is tracked through every later edit (a
mirror of the document, kept with pygls's own ``TextDocument``). After
``harvest.settle_seconds``, or at the next save, what survived decides:

* kept as inserted -> a FIM entry (prefix, the completion, suffix);
* edited -> a FIM entry whose middle is the user's final text;
* deleted -> recorded as rejected, never trained on.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.workspace import TextDocument

from gerbil_lsp.harvest.privacy import HarvestPolicy, is_gerbil_file, scrub_record
from gerbil_lsp.harvest.records import fim_record
from gerbil_lsp.harvest.store import HarvestStore

log = logging.getLogger(__name__)

SHOWN_TTL_S = 300.0  # a shown completion accepted later than this is no longer matched
MIN_MATCH_CHARS = 2


@dataclass(frozen=True)
class ShownCompletion:
    """One completion the editor showed: its id, the text it inserts and where."""

    id: str
    uri: str
    text: str
    start: types.Position
    shown_at: float = field(default_factory=time.monotonic)


@dataclass
class Tracked:
    shown: ShownCompletion
    start: int
    end: int
    accepted_at: float
    via: str  # command | didChange
    deadline: float


@dataclass(frozen=True)
class Settled:
    """What became of an accepted completion (returned for tests and logs)."""

    id: str
    outcome: str  # kept | edited | deleted | skipped
    entry_id: int | None
    final_text: str


def uri_to_path(uri: str) -> str | None:
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "file":
        return None
    return str(Path(urllib.request.url2pathname(parsed.path)).resolve())


def _as_incremental(old: str, new: str) -> tuple[int, int, str]:
    """A full-text change as (start, end, inserted) over ``old``: common prefix and suffix trimmed."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    return prefix, len(old) - suffix, new[prefix : len(new) - suffix]


class HarvestHooks:
    """Called by the language server; thread-safe; stores entries in the harvest store."""

    def __init__(self, *, policy: HarvestPolicy | None = None, settle_s: float | None = None,
                 store_factory: Callable[[], HarvestStore] = HarvestStore, background: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if policy is None or settle_s is None:
            from gerbil_lsp.core.settings import load_settings

            settings = load_settings().settings.harvest
            settle_s = settings.settle_seconds if settle_s is None else settle_s
            policy = policy or HarvestPolicy.from_settings()
        self.policy = policy
        self.settle_s = settle_s
        self._store_factory = store_factory
        self._store: HarvestStore | None = None
        self._clock = clock
        self._lock = threading.RLock()
        self._docs: dict[str, TextDocument] = {}
        self._shown: dict[str, ShownCompletion] = {}
        self._accepted_ids: set[str] = set()
        self._tracked: list[Tracked] = []
        self.settled: list[Settled] = []
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._settle_loop, name="harvest-acceptance", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ server calls

    def enabled_for(self, uri: str) -> bool:
        path = uri_to_path(uri)
        return path is not None and is_gerbil_file(path) and self.policy.allows(path)

    def on_did_open(self, uri: str, text: str, version: int | None = None) -> None:
        if not self.enabled_for(uri):
            return
        with self._lock:
            self._docs[uri] = TextDocument(uri, text, version)

    def on_did_close(self, uri: str) -> None:
        with self._lock:
            self._settle(uri=uri)
            self._docs.pop(uri, None)

    def on_shown(self, uri: str, items: list[ShownCompletion], text: str | None = None) -> None:
        """Completions were offered for ``uri``; ``text`` is the document as they were computed on."""
        if not self.enabled_for(uri):
            return
        with self._lock:
            if text is not None and (uri not in self._docs or self._docs[uri].source != text):
                self._docs[uri] = TextDocument(uri, text)
            now = self._clock()
            self._shown = {k: v for k, v in self._shown.items() if now - v.shown_at < SHOWN_TTL_S}
            for item in items:
                if item.text.strip():
                    self._shown[item.id] = item

    def on_accepted(self, completion_id: str, item: ShownCompletion | None = None) -> bool:
        """The item command ran: the completion's text is already in the document.

        ``item`` is what the server's registry passes along (same fields as :class:`ShownCompletion`).
        """
        with self._lock:
            shown = self._shown.get(completion_id) or item
            if shown is None or completion_id in self._accepted_ids:
                return False
            doc = self._docs.get(shown.uri)
            if doc is None:
                return False
            source = doc.source
            at = doc.offset_at_position(shown.start)
            start = at if source.startswith(shown.text, at) else source.find(shown.text, max(0, at - len(shown.text)))
            if start < 0:
                return False  # already changed beyond recognition; the didChange path had its chance
            self._accept(shown, start, "command")
            return True

    def on_did_change(self, uri: str, changes: list, version: int | None = None) -> None:
        """Apply ``textDocument/didChange`` content changes (incremental or full) in order."""
        with self._lock:
            doc = self._docs.get(uri)
            if doc is None:
                return
            for change in changes:
                old = doc.source
                if isinstance(change, types.TextDocumentContentChangePartial) or getattr(change, "range", None):
                    start = doc.offset_at_position(change.range.start)
                    end = doc.offset_at_position(change.range.end)
                    inserted = change.text
                    doc.apply_change(change)
                else:
                    doc.apply_change(change)
                    start, end, inserted = _as_incremental(old, doc.source)
                self._shift(uri, start, end, inserted)
                if len(inserted.strip()) >= MIN_MATCH_CHARS:
                    self._match_insertion(uri, doc, start, inserted)
            if version is not None:
                doc.version = version

    def on_did_save(self, uri: str, text: str | None = None) -> list[Settled]:
        with self._lock:
            doc = self._docs.get(uri)
            if doc is not None and text is not None and doc.source != text:
                old = doc.source
                doc.apply_change(types.TextDocumentContentChangeWholeDocument(text=text))
                self._shift(uri, *_as_incremental(old, text))
            return self._settle(uri=uri)

    def settle_due(self) -> list[Settled]:
        with self._lock:
            return self._settle(now=self._clock())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._store is not None:
            self._store.close()

    # ------------------------------------------------------------------ tracking

    def _accept(self, shown: ShownCompletion, start: int, via: str) -> None:
        now = self._clock()
        self._accepted_ids.add(shown.id)
        self._shown.pop(shown.id, None)
        self._tracked.append(Tracked(shown, start, start + len(shown.text), now, via, now + self.settle_s))
        self._wake.notify_all()

    def _shift(self, uri: str, start: int, end: int, inserted: str) -> None:
        """Move every tracked span of ``uri`` through one edit of [start, end) -> inserted."""
        delta = len(inserted) - (end - start)
        for t in self._tracked:
            if t.shown.uri != uri:
                continue
            if end <= t.start and not (start == end == t.start == t.end):
                t.start += delta
                t.end += delta
            elif start >= t.end:
                continue
            else:  # the edit touches the span: the span grows to cover it
                t.start, t.end = min(t.start, start), max(t.end, end) + delta

    def _match_insertion(self, uri: str, doc: TextDocument, start: int, inserted: str) -> None:
        """eglot path: did this insertion put a shown completion's text in place?"""
        source = doc.source
        for shown in list(self._shown.values()):
            if shown.uri != uri or shown.id in self._accepted_ids:
                continue
            at = doc.offset_at_position(shown.start)
            if not source.startswith(shown.text, at):
                continue
            # the insertion must be part of that text and lie inside it (not just typing that happens to match)
            if inserted.strip() in shown.text and at <= start <= at + len(shown.text):
                if len(inserted.strip()) >= min(len(shown.text.strip()), 2 * MIN_MATCH_CHARS) or inserted == shown.text:
                    self._accept(shown, at, "didChange")
                    return

    def _settle(self, *, uri: str | None = None, now: float | None = None) -> list[Settled]:
        done: list[Settled] = []
        keep: list[Tracked] = []
        for t in self._tracked:
            if (uri is not None and t.shown.uri == uri) or (now is not None and t.deadline <= now):
                done.append(self._record(t))
            else:
                keep.append(t)
        self._tracked = keep
        self.settled.extend(done)
        return done

    def _record(self, t: Tracked) -> Settled:
        doc = self._docs.get(t.shown.uri)
        path = uri_to_path(t.shown.uri) or t.shown.uri
        if doc is None:
            return Settled(t.shown.id, "skipped", None, "")
        source = doc.source
        final = source[t.start : t.end]
        if final == t.shown.text:
            outcome, status, reason, middle = "kept", "pending", "", final
        elif not final.strip():
            outcome, status, reason, middle = "deleted", "rejected", "completion deleted after acceptance", t.shown.text
        else:
            outcome, status, reason, middle = "edited", "pending", "", final
        prefix, suffix = source[: t.start], source[t.end :]
        if outcome == "deleted":
            suffix = source[t.end :]
        record = fim_record(prefix, middle, suffix, path=path, detail=f"completion-{outcome}",
                            line=prefix.count("\n") + 1, split_kind="completion")
        record, _ = scrub_record(record)
        try:
            if self._store is None:
                self._store = self._store_factory()
            entry_id = self._store.add("fim", record, source=f"completion-{outcome}", file=path,
                                       status=status, reason=reason)
        except Exception:  # the editor must never break because the store is unhappy
            log.exception("harvest: storing an accepted completion")
            entry_id = None
        return Settled(t.shown.id, outcome, entry_id, final)

    def _settle_loop(self) -> None:
        with self._lock:
            while not self._closed:
                if self._tracked:
                    wait = min(t.deadline for t in self._tracked) - self._clock()
                    if wait <= 0:
                        self._settle(now=self._clock())
                        continue
                    self._wake.wait(min(wait, 60.0))
                else:
                    self._wake.wait(60.0)
