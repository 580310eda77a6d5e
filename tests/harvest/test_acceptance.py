"""Accepted completions, driven through the server's real shown-completions registry and LSP change events.

Both client behaviours: VS Code runs the item's ``gerbil-lsp.completionAccepted``
command after inserting (command path); Emacs eglot never runs it, so the
insertion itself, seen in ``didChange``, must give the acceptance away.
"""

from __future__ import annotations

import pytest
from lsprotocol import types

from gerbil_lsp.harvest.acceptance import HarvestHooks
from gerbil_lsp.harvest.privacy import HarvestPolicy
from gerbil_lsp.harvest.store import HarvestStore

shown_mod = pytest.importorskip("gerbil_lsp.server.completion.shown")

BEFORE = "(import :std/iter)\n\n(def (total xs)\n  (for/fold (acc 0) (x xs) \n"
AFTER = "\n(def (main) (total [1 2 3]))\n"
COMPLETION = "(+ acc x)))"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def pos(text: str, offset: int) -> types.Position:
    line = text.count("\n", 0, offset)
    return types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def insert(text: str, offset: int, new: str, remove: int = 0) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=pos(text, offset), end=pos(text, offset + remove)), text=new)


@pytest.fixture
def setup(workspace):
    uri = (workspace / "src" / "sum.ss").as_uri()
    clock = Clock()
    hooks = HarvestHooks(policy=HarvestPolicy.from_settings(), settle_s=30, background=False, clock=clock)
    registry = shown_mod.ShownCompletions()
    registry.on_shown.append(hooks.on_shown)
    registry.on_accepted.append(hooks.on_accepted)
    text = BEFORE + AFTER
    hooks.on_did_open(uri, text, 1)
    cursor = len(BEFORE) - 1  # end of the `(for/fold ... ` line
    item = shown_mod.ShownModelCompletion(id=shown_mod.new_id(), uri=uri, text=COMPLETION, start=pos(text, cursor),
                                          prefix=text[:cursor], suffix=text[cursor:], backend="fake", model="fake")
    registry.add([item], text)
    yield hooks, registry, item, text, cursor, clock, uri
    hooks.close()


def entries():
    with HarvestStore() as store:
        return store.entries()


def test_command_path_kept_completion_becomes_fim(setup):
    hooks, registry, item, text, cursor, clock, uri = setup
    hooks.on_did_change(uri, [insert(text, cursor, COMPLETION)], 2)  # the client inserts, then runs the command
    assert registry.accepted(item.id) is item
    (settled,) = hooks.on_did_save(uri)
    assert settled.outcome == "kept"
    (entry,) = entries()
    fim = entry.payload["fim"]
    assert (fim["prefix"], fim["middle"], fim["suffix"]) == (text[:cursor], COMPLETION, text[cursor:])
    assert entry.status == "pending" and entry.source == "completion-kept"


def test_eglot_path_detects_the_insertion_and_keeps_the_users_edit(setup):
    hooks, registry, item, text, cursor, clock, uri = setup
    # eglot replaces the typed word with the item's textEdit: here "(+" was typed, then replaced by the whole text
    typed = text[:cursor] + "(+" + text[cursor:]
    hooks.on_did_change(uri, [insert(text, cursor, "(+")], 2)
    hooks.on_did_change(uri, [insert(typed, cursor, COMPLETION, remove=2)], 3)
    now = typed[:cursor] + COMPLETION + typed[cursor + 2:]
    # lines added above move the span; the user then renames x -> y inside it
    hooks.on_did_change(uri, [insert(now, 0, ";; totals\n")], 4)
    now = ";; totals\n" + now
    inside = now.index("(+ acc x)") + len("(+ acc ")
    hooks.on_did_change(uri, [insert(now, inside, "y", remove=1)], 5)
    assert hooks.settle_due() == []  # not settled yet
    clock.now += 31
    (settled,) = hooks.settle_due()
    assert settled.outcome == "edited" and settled.final_text == "(+ acc y)))"
    (entry,) = entries()
    assert entry.payload["fim"]["middle"] == "(+ acc y)))"
    assert entry.payload["fim"]["prefix"].startswith(";; totals\n(import :std/iter)")


def test_deleted_completion_is_recorded_as_rejected(setup):
    hooks, registry, item, text, cursor, clock, uri = setup
    hooks.on_did_change(uri, [insert(text, cursor, COMPLETION)], 2)
    after = text[:cursor] + COMPLETION + text[cursor:]
    hooks.on_did_change(uri, [insert(after, cursor, "", remove=len(COMPLETION))], 3)
    (settled,) = hooks.on_did_save(uri)
    assert settled.outcome == "deleted"
    (entry,) = entries()
    assert entry.status == "rejected" and entry.payload["fim"]["middle"] == COMPLETION


def test_typing_that_is_not_the_completion_is_not_acceptance(setup):
    hooks, registry, item, text, cursor, clock, uri = setup
    hooks.on_did_change(uri, [insert(text, cursor, "(- acc x)))")], 2)
    assert hooks.on_did_save(uri) == [] and entries() == []


def test_full_document_sync_is_understood(setup):
    hooks, registry, item, text, cursor, clock, uri = setup
    new = text[:cursor] + COMPLETION + text[cursor:]
    hooks.on_did_change(uri, [types.TextDocumentContentChangeWholeDocument(text=new)], 2)
    (settled,) = hooks.on_did_save(uri)
    assert settled.outcome == "kept"


def test_files_outside_opted_in_workspaces_are_ignored(setup, tmp_path):
    hooks, registry, item, text, cursor, clock, uri = setup
    other = (tmp_path / "elsewhere.ss").as_uri()
    hooks.on_did_open(other, text, 1)
    stray = shown_mod.ShownModelCompletion(id="x", uri=other, text=COMPLETION, start=pos(text, cursor),
                                           prefix="", suffix="", backend="fake", model="fake")
    registry.add([stray], text)
    hooks.on_did_change(other, [insert(text, cursor, COMPLETION)], 2)
    assert hooks.on_did_save(other) == [] and entries() == []
