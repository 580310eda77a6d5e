"""Go to implementation through a real `gerbil-lsp serve` process (pytest-lsp): a method's defmethods.

``shapes.ss`` declares the interface and implements ``area`` for circles;
``square.ss``, on disk only, implements it for squares; ``main.ss`` calls
``{area s}``. From the call, the implementation, or the interface's
declaration, the answer is both ``defmethod`` forms.
"""

from __future__ import annotations

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.server.test_call_hierarchy import open_file
from tests.server.test_workspace_modules import shop

SHAPES = """(import :gerbil/core)
(export #t)

(definterface Shape (area) (perimeter))
(defstruct circle (r))

(defmethod {area circle}
  (lambda (self) (* 3 (circle-r self) (circle-r self))))
"""
SQUARE = """(import :gerbil/core ./shapes)
(export #t)
(defstruct square (side))
(defmethod {area square}
  (lambda (self) (* (square-side self) (square-side self))))
(defmethod {perimeter square}
  (lambda (self) (* 4 (square-side self))))
"""
MAIN = "(import :gerbil/core ./shapes)\n\n(def (total s)\n  (+ 1 {area s}))\n"


@pytest.fixture
def project(tmp_path):
    root = shop(tmp_path, SHAPES, MAIN)
    (root / "util.ss").rename(root / "shapes.ss")
    (root / "square.ss").write_text(SQUARE)
    return root


async def implementations_at(client: LanguageClient, uri: str, line: int, character: int):
    found = await client.text_document_implementation_async(types.ImplementationParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)))
    return None if found is None else [(f.uri.rsplit("/", 1)[-1], f.range.start.line, f.range.start.character)
                                       for f in found]


async def test_a_methods_implementations_from_its_call_its_defmethod_and_its_interface(client, project):
    both = [("shapes.ss", 6, 11), ("square.ss", 3, 11)]
    main = await open_file(client, project, "main.ss", MAIN)
    assert await implementations_at(client, main, 3, 9) == both  # {area s}
    # go to definition on a method call: it has no one definition, its defmethods are
    definitions = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=main), position=types.Position(line=3, character=9)))
    assert [(d.uri.rsplit("/", 1)[-1], d.range.start.line) for d in definitions] == [("shapes.ss", 6), ("square.ss", 3)]
    shapes = (project / "shapes.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=shapes, language_id="gerbil", version=1, text=SHAPES)))
    assert await implementations_at(client, shapes, 6, 12) == both  # (defmethod {area circle} ...)
    assert await implementations_at(client, shapes, 3, 22) == both  # (definterface Shape (area) ...)
    assert await implementations_at(client, shapes, 3, 30) == [("square.ss", 5, 11)]  # (perimeter)
    # a procedure, a struct and a plain list head are no methods: nothing to list
    for line, character in ((4, 12), (7, 18), (3, 15)):
        assert await implementations_at(client, shapes, line, character) is None
