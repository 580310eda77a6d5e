"""Real OpenCode 1.18, offline: its agent asks our server who calls a procedure and what implements a method.

OpenCode's ``lsp`` tool (behind ``OPENCODE_EXPERIMENTAL_LSP_TOOL``) lets the model
ask the file's language server for definitions, references, hover, symbols and
the call hierarchy. The scripted fake model (:mod:`tests.harvest.fake_chat_model`)
calls it with ``incomingCalls`` on ``price-of`` in ``util.ss``; OpenCode opens the
file in our server, asks ``textDocument/prepareCallHierarchy`` and then
``callHierarchy/incomingCalls``, and the JSON it gets back is the tool result the
model is sent next: callers in a file the agent never opened included. In the same
session it asks ``goToImplementation`` on a method, and gets each ``defmethod``.

Skips where ``tests/harvest/test_opencode_real.py`` does (its ``opencode_bin`` fixture).
"""

from __future__ import annotations

import pytest

from gerbil_lsp.core.index import build_index
from tests.harvest import test_opencode_real as real
from tests.harvest.fake_chat_model import _text_of
from tests.server.test_call_hierarchy import MAIN, UTIL
from tests.server.test_implementation import SHAPES, SQUARE
from tests.server.test_lsp_features import FIXTURE_SRC
from tests.server.test_opencode_diagnostics import requests, server_command

opencode_bin = real.opencode_bin  # session fixture: installs OpenCode into tests/.tools, or skips

PROMPT = "Who calls price-of? LSP incomingCalls util.ss:4:7"  # 1-based: the name in (def (price-of item qty)
METHODS = "Which types implement area? LSP goToImplementation shapes.ss:7:13"  # (defmethod {area circle} ...)


@pytest.mark.slow
def test_the_agent_finds_the_callers_of_a_procedure_through_the_lsp_tool(opencode_bin, tmp_path):
    home, workspace = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    workspace.mkdir()
    (workspace / "gerbil.pkg").write_text("(package: shop)\n")
    (workspace / "util.ss").write_text(UTIL)
    (workspace / "main.ss").write_text(MAIN)
    (workspace / "shapes.ss").write_text(SHAPES)
    (workspace / "square.ss").write_text(SQUARE)
    index = tmp_path / "index.json.gz"
    build_index(None, FIXTURE_SRC).save(index)
    lsp = {"gerbil": {"command": server_command(), "extensions": [".ss"],
                      "initialization": {"index": {"path": str(index)}}}}
    log = tmp_path / "model.jsonl"
    done = real.run_opencode(opencode_bin, home, workspace, [PROMPT, METHODS], config={"lsp": lsp}, log=log,
                             env={"OPENCODE_EXPERIMENTAL_LSP_TOOL": "true"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    bodies = [b for b in requests(log) if b.get("tools")]
    assert "lsp" in {t["function"]["name"] for t in bodies[0]["tools"]}, "OpenCode offered no lsp tool"
    results = [m for m in bodies[-1]["messages"] if m.get("role") == "tool"]  # the last turn has them all
    assert results, "the model never got a tool result:\n" + done.stderr[-3000:]
    text = _text_of(results[0])
    assert "No results found" not in text, f"{text}\n--- OpenCode log ---\n{done.stderr[-4000:]}"
    # OpenCode passes on the server's CallHierarchyIncomingCall list as JSON
    for caller in ('"name": "total-of"', '"name": "checkout"', '"name": "price-list"'):
        assert caller in text, text
    assert (workspace / "main.ss").as_uri() in text  # a caller in a file the agent never opened
    assert '"name": "not-ours"' not in text  # it binds price-of itself

    assert len(results) == 2, "the second question got no tool result:\n" + done.stderr[-3000:]
    text = _text_of(results[1])
    for where in ("shapes.ss", "square.ss"):  # each defmethod {area T}, as Locations
        assert (workspace / where).as_uri() in text, text
    assert text.count('"uri"') == 2, text
