"""Model completions for the editor: one request per pause in typing, never a stale one running.

The path of a keystroke: a new request supersedes every older one (their
generation is cancelled, the HTTP stream with it); a typed-ahead cache hit
answers at once; otherwise wait out the debounce, build the FIM prompt, and
give the backend ``completion.budget_ms``. Past the budget the editor gets
nothing now, but the generation goes on into the cache (unless a newer
keystroke cancels it). A backend that is down or failing is skipped until its
backoff expires, and the user hears about it once. Everything shown is
post-processed, registered by id, and carries the accepted-command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from gerbil_lsp.core.positions import LineIndex
from gerbil_lsp.core.settings import CompletionSettings, LoadedSettings, ModelSettings, Settings
from gerbil_lsp.server.backends import (
    Backend,
    BackendError,
    BackendUnavailable,
    SpecError,
    backend_from_settings,
)
from gerbil_lsp.server.backends.base import Completion
from gerbil_lsp.server.completion.cache import CompletionCache
from gerbil_lsp.server.completion.context import (
    ImportSignatures,
    RecentFiles,
    display_path,
    uri_path,
)
from gerbil_lsp.server.completion.debounce import Debouncer
from gerbil_lsp.server.completion.health import BackendHealth
from gerbil_lsp.server.completion.latency import LatencyLog, LatencyRecord
from gerbil_lsp.server.completion.postprocess import Surroundings, postprocess
from gerbil_lsp.server.completion.postprocess.form_close import closed
from gerbil_lsp.server.completion.prompt import (
    STOP_TOKENS,
    FimPrompt,
    PromptBudget,
    build_prompt,
    chat_messages,
    strip_fences,
)
from gerbil_lsp.server.completion.shown import (
    ShownCompletions,
    ShownModelCompletion,
    accepted_command,
    new_id,
)
from gerbil_lsp.server.completion.tokens import TokenCounter, token_counter

log = logging.getLogger(__name__)

Notify = Callable[[str, types.MessageType], None]
WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&*/:<=>?^_~+-.@#")


@dataclass
class Suggestion:
    text: str
    prefix: str
    suffix: str
    offset: int
    cached: bool = False


def _sections(settings: Any) -> tuple[ModelSettings, CompletionSettings, Settings | None]:
    if isinstance(settings, LoadedSettings):
        settings = settings.settings
    if isinstance(settings, Settings):
        return settings.model, settings.completion, settings
    raise TypeError(f"expected Settings or LoadedSettings, got {type(settings).__name__}")


class ModelCompleter:
    """What the language server asks for model completions (``server.model``)."""

    def __init__(
        self,
        backend: Backend | None,
        *,
        model: ModelSettings | None = None,
        completion: CompletionSettings | None = None,
        index: Any = None,
        counter: TokenCounter | None = None,
        latency: LatencyLog | None = None,
        notify: Notify | None = None,
        unavailable: str | None = None,
        workspace_root: str | None = None,
    ) -> None:
        self.backend = backend
        self.model_settings = model or ModelSettings()
        self.settings = completion or CompletionSettings()
        self.counter = counter or token_counter(None)
        self.latency = latency if latency is not None else LatencyLog()
        self.notify = notify
        self.workspace_root = workspace_root
        self.unavailable = unavailable  # why there is no backend, said once
        self.cache = CompletionCache(self.settings.cache_size)
        self.debouncer = Debouncer(self.settings.debounce_ms)
        self.health = BackendHealth()
        self.shown = ShownCompletions()
        self.recent = RecentFiles()
        self.signatures = ImportSignatures(index)
        self._inflight: asyncio.Task | None = None
        self._inflight_key: tuple | None = None
        self._line_index: tuple[str, int | None, int, LineIndex] | None = None
        self._told_unavailable = False

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_settings(cls, settings: Any, *, index: Any = None, notify: Notify | None = None,
                      workspace_root: str | None = None) -> ModelCompleter | None:
        """A completer for ``[model]``/``[completion]`` settings; None when ``model.backend = "none"``."""
        model, completion, whole = _sections(settings)
        if model.backend == "none":
            return None
        unavailable = None
        backend = None
        try:
            backend = backend_from_settings(model)
        except (SpecError, BackendUnavailable, ValueError) as exc:
            unavailable = str(exc)
            log.warning("model completions are off: %s", exc)
        tokenizer = whole.data.tokenizer if whole is not None else None
        if tokenizer is None and backend is not None and getattr(backend, "name", "") == "hf":
            tokenizer = str(backend.adapter_dir or backend.model_dir)
        return cls(backend, model=model, completion=completion, index=index, counter=token_counter(tokenizer),
                   notify=notify, unavailable=unavailable, workspace_root=workspace_root)

    async def apply_settings(self, settings: Any) -> None:
        """New settings (``workspace/didChangeConfiguration``), applied in place.

        Subscribers, the shown registry and recent files stay; the backend is
        rebuilt (and the cache cleared) only when ``[model]`` changed. With
        ``model.backend = "none"`` the completer stays and answers nothing.
        """
        model, completion, _ = _sections(settings)
        self.settings = completion
        self.debouncer.delay_s = completion.debounce_ms / 1000.0
        self.cache.size = completion.cache_size
        if model == self.model_settings:
            return
        old, self.backend = self.backend, None
        self._cancel_inflight()
        self.model_settings = model
        self.unavailable = None
        self._told_unavailable = model.backend == "none"
        try:
            self.backend = backend_from_settings(model)
        except (SpecError, BackendUnavailable, ValueError) as exc:
            self.unavailable = str(exc)
        self.health = BackendHealth()
        self.cache.clear()
        if old is not None:
            with contextlib.suppress(Exception):
                await old.aclose()

    @property
    def index(self) -> Any:
        return self.signatures.index

    @index.setter
    def index(self, value: Any) -> None:
        self.signatures = ImportSignatures(value)

    @property
    def on_accepted(self) -> list:
        """Subscribers called as ``callback(completion_id, shown)`` when a completion is accepted."""
        return self.shown.on_accepted

    @property
    def on_shown(self) -> list:
        """Subscribers called as ``callback(uri, items, document_text)`` when completions are shown."""
        return self.shown.on_shown

    # ------------------------------------------------------------------ LSP entry points

    async def inline_completions(
        self, document: Any, position: types.Position, context: types.InlineCompletionContext | None = None
    ) -> list[types.InlineCompletionItem]:
        """Ghost text for ``textDocument/inlineCompletion`` (empty list when there is none now)."""
        if not self.settings.inline:
            return []
        invoked = context is not None and context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        suggestion = await self.suggest(document, position, invoked=invoked)
        if suggestion is None:
            return []
        item = self._register(document, position, suggestion, "inline")
        return [types.InlineCompletionItem(
            insert_text=suggestion.text,
            range=types.Range(start=position, end=position),
            command=accepted_command(item),
        )]

    async def completion_items(self, document: Any, position: types.Position) -> list[types.CompletionItem]:
        """The model's completion as a completion item, for clients without inline completion."""
        if not self.settings.model_items:
            return []
        suggestion = await self.suggest(document, position, invoked=False)
        if suggestion is None:
            return []
        item = self._register(document, position, suggestion, "item")
        word = _word_before(suggestion.prefix)
        start = types.Position(position.line, max(0, position.character - len(word)))
        first_line = suggestion.text.split("\n", 1)[0]
        label = (word + first_line).strip() or suggestion.text.strip().split("\n", 1)[0]
        return [types.CompletionItem(
            label=label[:80] + ("…" if len(label) > 80 or "\n" in suggestion.text else ""),
            kind=types.CompletionItemKind.Snippet,
            detail=f"model: {self.backend_label}",
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                              value=f"```scheme\n{word}{suggestion.text}\n```"),
            filter_text=word + suggestion.text,
            sort_text="~model",
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=types.Range(start=start, end=position), new_text=word + suggestion.text),
            command=accepted_command(item),
        )]

    def accepted(self, completion_id: str) -> ShownModelCompletion | None:
        """``gerbil-lsp.completionAccepted`` ran for ``completion_id``."""
        return self.shown.accepted(completion_id)

    @property
    def backend_label(self) -> str:
        if self.backend is None:
            return "none"
        return f"{self.backend.name} {self.backend.model}"

    # ------------------------------------------------------------------ the pipeline

    async def suggest(self, document: Any, position: types.Position, *, invoked: bool = False) -> Suggestion | None:
        """The post-processed completion at ``position``, or None (superseded, no backend, over budget...)."""
        started = time.perf_counter()
        ticket = self.debouncer.ticket()
        if self.backend is None:
            self._tell_unavailable()
            return None
        uri = document.uri
        text = document.source
        offset = self._offset(document, text, position)
        prefix, suffix = text[:offset], text[offset:]
        key = (uri, offset, hash(prefix), suffix[:2000])
        if self._inflight is not None and self._inflight_key == key and not self._inflight.done():
            task = self._inflight  # asked again for the same cursor: join the generation under way
        else:
            self._cancel_inflight()  # a newer keystroke: whatever was generating is stale
            task = None
        hit = self.cache.get(uri, prefix, suffix)
        if hit is not None:
            self._record("cached", started)
            return Suggestion(hit, prefix, suffix, offset, cached=True)
        if task is None:
            if not self.health.available():
                return None
            if not await self.debouncer.settle(ticket, immediate=invoked):
                self._record("stale", started)
                return None
            self.recent.touch(uri, text, getattr(document, "version", None))
            prompt = self._prompt(uri, prefix, suffix)
            task = asyncio.create_task(self._generate(uri, prefix, suffix, prompt))
            self._inflight, self._inflight_key = task, key
        try:
            done, _ = await asyncio.wait({task}, timeout=self.settings.budget_ms / 1000.0)
        except asyncio.CancelledError:  # $/cancelRequest: the editor no longer wants it
            task.cancel()
            self._record("cancelled", started)
            raise
        if not done:
            self._record("timeout", started)
            if self.health.note_slow():
                self._say(f"gerbil-lsp: the model ({self.backend_label}) takes longer than "
                          f"completion.budget_ms = {self.settings.budget_ms} ms; completions may come late",
                          types.MessageType.Warning)
            return None
        if task.cancelled():
            self._record("stale", started)
            return None
        outcome = task.result()
        if outcome is None:
            self._record("error", started)
            return None
        completion, shown = outcome
        self._record("ok" if shown else "empty", started, completion)
        if not shown or not self.debouncer.current(ticket):
            return None
        return Suggestion(shown, prefix, suffix, offset)

    async def _generate(self, uri: str, prefix: str, suffix: str, prompt: FimPrompt):
        """Ask the backend; post-process; cache. None on failure (after noting it)."""
        backend = self.backend
        assert backend is not None
        max_tokens = self.model_settings.max_tokens
        temperature = self.model_settings.temperature
        where = Surroundings(prefix, suffix)
        _ = where.state  # scanned once, here, before a backend's worker thread reads it
        try:
            if backend.fim:  # stop generating once the completion closes its form: the rest is cut anyway
                completion = await backend.complete(prompt.text, max_tokens=max_tokens, temperature=temperature,
                                                    stop=list(STOP_TOKENS), enough=lambda text: closed(text, where))
                raw = completion.text
            else:
                completion = await backend.chat(chat_messages(prompt), max_tokens=max_tokens,
                                                temperature=temperature)
                raw = strip_fences(completion.text)
        except (BackendUnavailable, BackendError) as exc:
            if self.health.failed(str(exc)):
                kind = "unavailable" if isinstance(exc, BackendUnavailable) else "failing"
                self._say(f"gerbil-lsp: the model is {kind}: {exc}. Completions from the index go on; "
                          "model completions retry with backoff.", types.MessageType.Warning)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an SDK surprise must not break completion
            log.exception("model completion failed")
            if self.health.failed(repr(exc)):
                self._say(f"gerbil-lsp: model completion failed: {exc!r}", types.MessageType.Error)
            return None
        if self.health.succeeded():
            self._say(f"gerbil-lsp: the model ({self.backend_label}) answers again.", types.MessageType.Info)
        shown = postprocess(raw, where) if raw.strip() else None
        if shown:
            self.cache.put(uri, prefix, suffix, shown)
        return completion, shown

    def _prompt(self, uri: str, prefix: str, suffix: str) -> FimPrompt:
        path = uri_path(uri)
        budget = PromptBudget(self.settings.prefix_tokens, self.settings.suffix_tokens,
                              self.settings.repo_context_tokens)
        signatures = ""
        recent = []
        if budget.repo_context_tokens:
            try:
                signatures = self.signatures.for_text(prefix + suffix, path)
            except Exception:  # the index is help, not a requirement
                log.exception("import signatures for the prompt")
            recent = self.recent.others(uri, self.workspace_root)
        root_name = self.workspace_root.rstrip("/").rsplit("/", 1)[-1] if self.workspace_root else ""
        return build_prompt(prefix, suffix, path=display_path(uri, self.workspace_root), repo_name=root_name,
                            signatures=signatures, recent=recent, budget=budget, counter=self.counter)

    # ------------------------------------------------------------------ helpers

    def _cancel_inflight(self) -> None:
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()

    def _offset(self, document: Any, text: str, position: types.Position) -> int:
        """The str offset of an LSP position (UTF-16), clamped; cached per document version."""
        codec = getattr(document, "position_codec", None)
        encoding = getattr(codec, "encoding", types.PositionEncodingKind.Utf16)
        if encoding != types.PositionEncodingKind.Utf16:
            return max(0, min(len(text), document.offset_at_position(position)))
        key = (document.uri, getattr(document, "version", None), len(text))
        cached = self._line_index
        if cached is None or cached[:3] != key or cached[3].text is not text:
            cached = (*key, LineIndex(text))
            self._line_index = cached
        return cached[3].offset(position.line, position.character)

    def _register(self, document: Any, position: types.Position, suggestion: Suggestion,
                  kind: str) -> ShownModelCompletion:
        backend = self.backend
        item = ShownModelCompletion(
            id=new_id(), uri=document.uri, text=suggestion.text, start=position,
            prefix=suggestion.prefix[-8000:], suffix=suggestion.suffix[:4000],
            backend=backend.name if backend else "", model=backend.model if backend else "", kind=kind,
        )
        self.shown.add([item], document.source)
        return item

    def _record(self, outcome: str, started: float, completion: Completion | None = None) -> None:
        backend = self.backend
        self.latency.record(LatencyRecord(
            ts=time.time(),
            backend=backend.name if backend else "none",
            model=backend.model if backend else "",
            outcome=outcome,
            total_ms=(time.perf_counter() - started) * 1000.0,
            backend_ms=completion.latency_ms if completion else None,
            prompt_tokens=completion.prompt_tokens if completion else None,
            tokens=completion.tokens if completion else None,
        ))

    def _say(self, message: str, kind: types.MessageType) -> None:
        log.warning("%s", message)
        if self.notify is not None:
            try:
                self.notify(message, kind)
            except Exception:
                log.exception("could not show a message")

    def _tell_unavailable(self) -> None:
        if not self._told_unavailable:
            self._told_unavailable = True
            self._say(f"gerbil-lsp: model completions are off: {self.unavailable or 'no model backend'}",
                      types.MessageType.Warning)

    async def health_check(self) -> bool:
        return self.backend is not None and await self.backend.health()

    async def aclose(self) -> None:
        self._cancel_inflight()
        self.latency.close()
        if self.backend is not None:
            with contextlib.suppress(Exception):
                await self.backend.aclose()


def _word_before(prefix: str) -> str:
    """The symbol characters just before the cursor (what a completion item replaces)."""
    i = len(prefix)
    while i > 0 and prefix[i - 1] in WORD_CHARS and len(prefix) - i < 200:
        i -= 1
    return prefix[i:]
