"""What the loopback fakes share: a threaded HTTP/1.1 server on 127.0.0.1 and a generation ledger.

The fakes stand in for model services that cannot run here (Ollama's server,
OpenAI-style hosted endpoints). They are driven by the real SDKs, so they speak
HTTP exactly: keep-alive, chunked streaming, and a client that hangs up mid-
stream is noticed (the generation counts as *aborted*, which is how tests and
the bench see that cancellation reached the wire).
"""

from __future__ import annotations

import asyncio
import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_RE = re.compile(r"\s+|\w+|[^\w\s]")


def tokens_of(text: str) -> list[str]:
    """The fake's "tokens": runs of space, words, single punctuation (close to a BPE's granularity)."""
    return TOKEN_RE.findall(text)


@dataclass
class Ledger:
    """Counts of generations: started, ran to completion, aborted by the client hanging up."""

    started: int = 0
    completed: int = 0
    aborted: int = 0
    requests: list[dict] = field(default_factory=list)  # every request body, in order
    paths: list[str] = field(default_factory=list)
    ended: list[tuple[str, dict]] = field(default_factory=list)  # (completed | aborted, request body)
    durations_ms: list[float] = field(default_factory=list)  # completed generations, delay + streaming
    handled_ms: list[float] = field(default_factory=list)  # every request but HEAD: parsing it to the answer's end
    connections: int = 0  # TCP connections accepted
    heads: int = 0  # HEAD requests answered
    heads_with_key: int = 0  # ... that carried an Authorization header
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, path: str, body: dict) -> None:
        with self._lock:
            self.paths.append(path)
            self.requests.append(body)

    def bump(self, what: str, body: dict | None = None) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)
            if body is not None:
                self.ended.append((what, body))

    async def hang_up_seen(self, seconds: float = 1.0) -> int:
        """Wait (yielding to the event loop) until a generation was aborted, or ``seconds`` pass; the count.

        The fake notices a client that hung up at its next token or delay check.
        """
        deadline = time.perf_counter() + seconds
        while not self.aborted and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        return self.aborted

    def reset(self) -> None:
        with self._lock:
            self.started = self.completed = self.aborted = 0
            self.connections = self.heads = self.heads_with_key = 0
            self.requests.clear()
            self.paths.clear()
            self.ended.clear()
            self.durations_ms.clear()
            self.handled_ms.clear()


Responder = Callable[[dict], str]


def default_responder(body: dict) -> str:
    return '(displayln "hello")\n'


class ClientGone(Exception):
    """The client closed the connection while we were generating."""


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small streamed writes must not wait for delayed ACKs (40 ms)
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the ledger instead
        pass

    def parse_request(self) -> bool:
        self._began = time.perf_counter()  # the request line is in: the fake's own work starts
        return super().parse_request()

    def handle_one_request(self) -> None:
        """One request; its handling time goes to the ledger (benchmarks subtract the fake's share)."""
        self._began = None
        self.head_only = False
        super().handle_one_request()
        if self._began is not None and not self.head_only:
            self.server.ledger.handled_ms.append((time.perf_counter() - self._began) * 1000)

    def handle(self) -> None:
        """Serve the connection's requests; a client that hangs up between them is not an error.

        A client that stops reading a stream part-way closes with unread data, which the
        kernel turns into a reset: the next read of a keep-alive request sees it.
        """
        self.server.ledger.bump("connections")
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            self.close_connection = True

    def do_HEAD(self) -> None:
        """GET's answer without its body (RFC 9110 9.3.2), as Go's net/http and Starlette give it."""
        self.server.ledger.bump("heads")
        if self.headers.get("Authorization"):
            self.server.ledger.bump("heads_with_key")
        self.head_only = True
        self.do_GET()

    # -------------------------------------------------------------- reading

    def read_json(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self.send_json(400, {"error": "invalid JSON body"})
            return None
        self.server.ledger.record(self.path, body)
        return body

    # -------------------------------------------------------------- writing

    def send_json(self, status: int, payload: Any) -> None:
        self.send_body(status, "application/json", json.dumps(payload).encode())

    def send_body(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not self.head_only:
            self.wfile.write(data)

    def start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        if self.client_gone():
            raise ClientGone
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ClientGone from exc

    def end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ClientGone from exc

    def client_gone(self) -> bool:
        """True when the peer has closed its end (readable with nothing to read)."""
        sock: socket.socket = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def wait(self, seconds: float) -> None:
        """Sleep like a model thinking, but notice a client that hangs up meanwhile."""
        deadline = time.perf_counter() + seconds
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            try:  # wakes at the deadline, or at once when the client hangs up
                readable, _, _ = select.select([self.connection], [], [], left)
            except (OSError, ValueError) as exc:
                raise ClientGone from exc
            if readable and self.client_gone():
                raise ClientGone
            if readable:  # a pipelined request is waiting: nothing to notice, just wait
                time.sleep(min(left, 0.001))

    def generate(self, body: dict, emit: Callable[[str], None], text: str) -> None:
        """The fixed delay, then ``text`` token by token; the ledger learns how it ended."""
        ledger = self.server.ledger
        ledger.bump("started")
        began = time.perf_counter()
        try:
            self.wait(self.server.delay_s)
            for piece in tokens_of(text):
                if self.server.token_delay_s:
                    self.wait(self.server.token_delay_s)
                emit(piece)
        except ClientGone:
            ledger.bump("aborted", body)
            self.close_connection = True
            raise
        ledger.durations_ms.append((time.perf_counter() - began) * 1000)
        ledger.bump("completed", body)


class LoopbackServer(ThreadingHTTPServer):
    """A fake service on 127.0.0.1, in a daemon thread. Use as a context manager."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[FakeHandler], *, delay_s: float = 0.0, token_delay_s: float = 0.0,
                 responder: Responder = default_responder, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.delay_s = delay_s
        self.token_delay_s = token_delay_s
        self.responder = responder
        self.ledger = Ledger()
        self.fail_with: tuple[int, Any] | None = None  # (status, body) to answer every request with
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def apply_stop(text: str, stop: list[str] | str | None) -> tuple[str, bool]:
    """Cut ``text`` at the first stop sequence, as the services document."""
    if isinstance(stop, str):
        stop = [stop]
    cuts = [i for s in stop or () if s and (i := text.find(s)) >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def limit_tokens(text: str, limit: int | None) -> tuple[str, bool]:
    """At most ``limit`` fake tokens (``num_predict`` / ``max_tokens``); True when cut."""
    pieces = tokens_of(text)
    if limit is None or limit < 0 or len(pieces) <= limit:
        return text, False
    return "".join(pieces[:limit]), True
