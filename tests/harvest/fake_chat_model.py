"""A loopback fake of the OpenAI Chat Completions API, enough for OpenCode to hold a session.

It reproduces the documented streaming format of ``POST /v1/chat/completions``
(https://platform.openai.com/docs/api-reference/chat-streaming): Server-Sent
Events, one ``chat.completion.chunk`` per ``data:`` line, ``delta.content`` for
text, ``delta.tool_calls[i]`` (``id``, ``type: function``, ``function.name``,
``function.arguments``) for tool calls, a final chunk with ``finish_reason``
(``stop`` or ``tool_calls``) and ``usage``, then ``data: [DONE]``. Non-streaming
requests get one ``chat.completion`` object. ``GET /v1/models`` lists one model.

Its "model" is a script, not a network: when the request offers a ``write``
tool and the last user message contains ``WRITE <path>`` followed by a fenced
code block, it calls ``write`` with that file and code; when it offers the
``lsp`` tool and the message says ``LSP <operation> <path>:<line>:<character>``
(1-based, as that tool takes them), it calls ``lsp``; after a tool result it
answers with a closing sentence; otherwise it answers with a short Gerbil
explanation. Every request body is appended to a JSON-lines log for tests.

Run it standalone (OpenCode runs offline in its own network namespace, so the
model must live there too)::

    python fake_chat_model.py --port-file PORT --log requests.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = "gerbil-fake"
WRITE_DIRECTIVE = re.compile(r"WRITE\s+(\S+)\s*\n```[a-z]*\n(.*?)```", re.S)
LSP_DIRECTIVE = re.compile(r"LSP\s+(\w+)\s+(\S+?):(\d+):(\d+)")
PLAIN_ANSWER = (
    "In Gerbil, `(import :std/iter)` gives you `for` and `for/collect`; "
    "`(def (f x) ...)` defines a procedure."
)


def _text_of(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def plan_reply(body: dict) -> dict:
    """What the scripted model says: {'text': ...} or {'tool': name, 'arguments': {...}}."""
    messages = body.get("messages") or []
    tools = {t.get("function", {}).get("name") for t in body.get("tools") or []}
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return {"text": "Done: the file is written and reads cleanly."}
    user_text = _text_of(last) if last.get("role") == "user" else ""
    if "write" in tools:
        match = WRITE_DIRECTIVE.search(user_text)
        if match:
            return {"tool": "write", "arguments": {"filePath": match.group(1), "content": match.group(2)}}
    if "lsp" in tools:
        match = LSP_DIRECTIVE.search(user_text)
        if match:
            operation, path, line, character = match.groups()
            return {"tool": "lsp", "arguments": {"operation": operation, "filePath": path,
                                                 "line": int(line), "character": int(character)}}
    if not tools:  # OpenCode's title / summary requests carry no tools
        return {"text": "Gerbil session"}
    return {"text": PLAIN_ANSWER}


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        payload["usage"] = usage
    return f"data: {json.dumps(payload)}\n\n".encode()


USAGE = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}


class FakeChatHandler(BaseHTTPRequestHandler):
    log_path: Path | None = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - keep stderr quiet
        pass

    def _send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"path": self.path, "body": body}) + "\n")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        reply = plan_reply(body)
        if not body.get("stream"):
            message: dict = {"role": "assistant", "content": reply.get("text")}
            finish = "stop"
            if "tool" in reply:
                message["tool_calls"] = [
                    {"id": "call_1", "type": "function",
                     "function": {"name": reply["tool"], "arguments": json.dumps(reply["arguments"])}}
                ]
                finish = "tool_calls"
            self._send_json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": MODEL, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": USAGE,
            })
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(_chunk({"role": "assistant", "content": ""}))
        if "tool" in reply:
            call = {"index": 0, "id": "call_fake_1", "type": "function",
                    "function": {"name": reply["tool"], "arguments": json.dumps(reply["arguments"])}}
            self.wfile.write(_chunk({"tool_calls": [call]}))
            self.wfile.write(_chunk({}, finish="tool_calls", usage=USAGE))
        else:
            for word in re.findall(r"\S+\s*", reply["text"]):
                self.wfile.write(_chunk({"content": word}))
            self.wfile.write(_chunk({}, finish="stop", usage=USAGE))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def serve(port: int = 0, log_path: Path | None = None) -> ThreadingHTTPServer:
    """Start the fake on 127.0.0.1 in a daemon thread; ``server.server_port`` is the port."""
    handler = type("Handler", (FakeChatHandler,), {"log_path": log_path})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    server = serve(args.port, args.log)
    if args.port_file:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(server.server_port))
        tmp.replace(args.port_file)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
