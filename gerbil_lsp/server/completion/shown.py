"""The model completions the editor was shown, by id, until they are accepted or forgotten.

Every model completion carries the command ``gerbil-lsp.completionAccepted``
with ``[{"id": ...}]``. When the editor runs it, the id finds what was shown
(document, prefix, suffix, text, time) and every ``on_accepted`` subscriber
hears of it: the harvest part turns accepted completions into training data.
``on_shown`` subscribers hear of each batch shown, with the document text.
The registry is bounded: old entries fall out first.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)

ACCEPTED_COMMAND = "gerbil-lsp.completionAccepted"


@dataclass(frozen=True)
class ShownModelCompletion:
    """One model completion as shown. Field names match what harvest's hooks read."""

    id: str
    uri: str
    text: str
    start: types.Position
    prefix: str
    suffix: str
    backend: str
    model: str
    kind: str = "inline"  # inline | item
    shown_at: float = field(default_factory=time.monotonic)
    time: float = field(default_factory=time.time)


AcceptedCallback = Callable[[str, ShownModelCompletion], Any]
ShownCallback = Callable[[str, list[ShownModelCompletion], str], Any]


def new_id() -> str:
    return uuid.uuid4().hex


def accepted_command(item: ShownModelCompletion) -> types.Command:
    return types.Command(
        title="completion accepted",
        command=ACCEPTED_COMMAND,
        arguments=[{"id": item.id, "uri": item.uri, "kind": item.kind}],
    )


class ShownCompletions:
    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self._items: OrderedDict[str, ShownModelCompletion] = OrderedDict()
        self.on_accepted: list[AcceptedCallback] = []
        self.on_shown: list[ShownCallback] = []

    def __len__(self) -> int:
        return len(self._items)

    def get(self, completion_id: str) -> ShownModelCompletion | None:
        return self._items.get(completion_id)

    def add(self, items: list[ShownModelCompletion], document_text: str) -> None:
        for item in items:
            self._items[item.id] = item
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
        if items:
            for callback in list(self.on_shown):
                try:
                    callback(items[0].uri, items, document_text)
                except Exception:
                    log.exception("an on_shown subscriber failed")

    def accepted(self, completion_id: str) -> ShownModelCompletion | None:
        """The editor ran the command: tell the subscribers; None when the id is unknown."""
        item = self._items.pop(completion_id, None)
        if item is None:
            log.info("completionAccepted for an unknown or expired id %r", completion_id)
            return None
        for callback in list(self.on_accepted):
            try:
                callback(completion_id, item)
            except Exception:
                log.exception("an on_accepted subscriber failed")
        return item
