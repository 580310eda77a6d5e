"""`gerbil-lsp serve` on stdio, the process as an editor starts it, read byte for byte.

Pipes (what editors give) go through the event loop's reader; a regular file
on stdin goes through pygls's threaded reader. Both must answer the same
messages, end on ``exit`` with the code the LSP spec gives (0 after
``shutdown``), and end quietly when stdin closes in the middle of a message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gerbil_lsp.server.stdio import loop_can_read

ROOT = Path(__file__).resolve().parents[2]


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def replies(stdout: bytes) -> list[dict]:
    out = []
    while stdout:
        head, _, rest = stdout.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        out.append(json.loads(rest[:length]))
        stdout = rest[length:]
    return out


def session(text: str) -> bytes:
    uri = "file:///tmp/stdio-test.ss"
    return b"".join(frame(m) for m in (
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "processId": None}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "gerbil", "version": 1, "text": text}}},
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": uri}, "position": {"line": 0, "character": 3}}},
        {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ))


def serve(stdin=None, *, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gerbil_lsp", "serve"], stdin=stdin, input=input,
                          capture_output=True, env=env, timeout=120, cwd=ROOT)


def answers(stdout: bytes) -> dict[int, dict]:
    """Replies to our requests by id (notifications and server requests left out)."""
    return {r["id"]: r for r in replies(stdout) if "id" in r and "method" not in r}


def check_answers(done: subprocess.CompletedProcess) -> None:
    """initialize and hover answered (a batch sends ``exit`` without waiting for ``shutdown``'s reply)."""
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    by_id = answers(done.stdout)
    assert by_id[1]["result"]["capabilities"]["hoverProvider"]
    hover = by_id[2]["result"]["contents"]["value"]
    assert "hash-put!" in hover, hover


TEXT = "(hash-put! h 'a 1)\n"


def test_pipe_stdin_is_read_on_the_event_loop():
    done = serve(input=session(TEXT))
    check_answers(done)


def test_pipe_session_as_an_editor_runs_it():
    """Each request waits for its reply, as clients do; ``exit`` comes after ``shutdown`` is answered."""
    *requests, last = session(TEXT).split(b"Content-Length: ")[1:]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-m", "gerbil_lsp", "serve"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT) as proc:
        seen: dict[int, dict] = {}
        for message in requests:
            proc.stdin.write(b"Content-Length: " + message)
            proc.stdin.flush()
            wanted = json.loads(message.partition(b"\r\n\r\n")[2]).get("id")
            while wanted is not None and wanted not in seen:
                seen.update(answers(read_message(proc.stdout)))
        proc.stdin.write(b"Content-Length: " + last)  # exit
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    assert "hash-put!" in seen[2]["result"]["contents"]["value"]
    assert seen[3]["result"] is None


def read_message(stdout) -> bytes:
    header = b""
    while not header.endswith(b"\r\n\r\n"):
        byte = stdout.read(1)
        assert byte, "the server closed stdout"
        header += byte
    length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
    return header + stdout.read(length)


def test_regular_file_stdin_falls_back_to_the_threaded_reader(tmp_path):
    messages = tmp_path / "messages.bin"
    messages.write_bytes(session(TEXT))
    with messages.open("rb") as stdin:
        assert not loop_can_read(stdin, sys.stdout.buffer)
        done = serve(stdin)
    check_answers(done)


def test_stdin_closing_mid_message_ends_the_server_quietly():
    whole = session(TEXT)
    cut = whole.index(b'"method": "textDocument/hover"')  # inside the hover request's body
    done = serve(input=whole[:cut])
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert list(answers(done.stdout)) == [1]  # initialize answered; the cut request is neither answered nor guessed at
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize("same_socket", [True, False])
def test_stdin_and_stdout_on_one_socket_keep_the_threaded_reader(same_socket):
    import socket

    left, right = socket.socketpair()
    other, _ = socket.socketpair()
    try:
        stdin = left.makefile("rb")
        stdout = (left if same_socket else other).makefile("wb")
        assert loop_can_read(stdin, stdout) is (not same_socket)
    finally:
        for s in (left, right, other):
            s.close()
