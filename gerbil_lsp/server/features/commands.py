"""``workspace/executeCommand``: ``gerbil-lsp.completionAccepted``.

Every model completion carries this command with ``[{"id": ...}]``; editors
run it when the user accepts the suggestion. The completer's registry tells
its ``on_accepted`` subscribers (the harvest part).
"""

from __future__ import annotations

import logging
from typing import Any

from gerbil_lsp.server.completion.shown import ACCEPTED_COMMAND

log = logging.getLogger(__name__)


def accepted_ids(args: tuple[Any, ...]) -> list[str]:
    """Ids from the command's arguments: ``{"id": ...}`` objects (a bare id string also works)."""
    ids = []
    for arg in args:
        if isinstance(arg, dict) and isinstance(arg.get("id"), str):
            ids.append(arg["id"])
        elif isinstance(arg, str):
            ids.append(arg)
    return ids


def register(server: Any) -> None:
    @server.command(ACCEPTED_COMMAND)
    def completion_accepted(*args: Any) -> dict:
        completer = getattr(server, "model", None)
        ids = accepted_ids(args)
        known = [i for i in ids if completer is not None and completer.accepted(i) is not None]
        return {"accepted": known}
