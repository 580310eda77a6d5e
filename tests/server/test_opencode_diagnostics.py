"""Real OpenCode 1.18, offline, with gerbil-lsp in its ``lsp`` config: our errors reach its model.

OpenCode runs under ``unshare -n`` against the loopback fake OpenAI chat model
(:mod:`tests.harvest.fake_chat_model`, driven by :mod:`tests.harvest.opencode_offline`).
The prompt makes the fake call OpenCode's ``write`` tool with a ``.ss`` file that uses
an unbound name; OpenCode opens the file in our server, and the Error-severity
diagnostics it gets back go into the write tool's result, which is the next thing
the model is sent. The server gets an index with a complete prelude (built from the
test source tree) through ``initialization``, so it may call a name unbound.

Skips exactly where ``tests/harvest/test_opencode_real.py`` does: its ``opencode_bin``
fixture (root for ``unshare -n``, npm to install ``opencode-ai``, a binary for this
platform) is reused here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gerbil_lsp.core.index import build_index
from tests.harvest import test_opencode_real as real
from tests.harvest.fake_chat_model import _text_of
from tests.server.test_lsp_features import FIXTURE_SRC

opencode_bin = real.opencode_bin  # session fixture: installs OpenCode into tests/.tools, or skips

BAD_SOURCE = "(def (f h)\n  (hash-table-ref h 'k))\n"
PROMPT = f"""Write a Gerbil procedure that looks up 'k in a hash table.
WRITE bad.ss
```scheme
{BAD_SOURCE}```
"""


def server_command() -> list[str]:
    script = Path(sys.executable).with_name("gerbil-lsp")
    return [str(script), "serve"] if script.is_file() else [sys.executable, "-m", "gerbil_lsp", "serve"]


def requests(log: Path) -> list[dict]:
    return [json.loads(line)["body"] for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.slow
def test_unbound_identifier_reaches_the_model_in_the_write_result(opencode_bin, tmp_path):
    home, workspace = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    workspace.mkdir()
    index = tmp_path / "index.json.gz"
    build_index(None, FIXTURE_SRC).save(index)
    lsp = {"gerbil": {"command": server_command(), "extensions": [".ss", ".scm", ".sld"],
                      "initialization": {"index": {"path": str(index)}}}}
    log = tmp_path / "model.jsonl"
    done = real.run_opencode(opencode_bin, home, workspace, [PROMPT], config={"lsp": lsp}, log=log)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (workspace / "bad.ss").read_text() == BAD_SOURCE

    bodies = [b for b in requests(log) if b.get("tools")]  # the agent's turns (not title requests)
    assert bodies and bodies[0]["messages"][-1]["role"] == "user"
    results = [(i, m) for i, b in enumerate(bodies) for m in b["messages"] if m.get("role") == "tool"]
    assert results, "the model never got a tool result:\n" + done.stderr[-3000:]
    turn, message = results[0]
    assert turn == 1  # the request right after the write call carries its result
    text = _text_of(message)
    assert "Wrote file successfully." in text, text
    assert "LSP errors detected in this file" in text, (
        f"no diagnostics in the write result:\n{text}\n--- OpenCode log ---\n{done.stderr[-4000:]}")
    # ... with what to write instead, so the model can fix its code on its next turn
    assert "unbound identifier 'hash-table-ref' (SRFI 69); in Gerbil: hash-ref, hash-get" in text, text
    assert "ERROR [2:" in text, text  # OpenCode's 1-based line of `hash-table-ref`
