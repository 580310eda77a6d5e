"""LSP over stdin/stdout on the event loop itself, with no reader thread.

pygls's ``start_io`` reads stdin through a thread pool: every header line and
every body is one hand-off to a worker thread and back, five per message, which
costs the editor most of a millisecond per keystroke. When stdin is a pipe or a
socket (what editors give a language server) we read it with an asyncio
``StreamReader`` instead and feed pygls's own message loop (``run_async``, the
loop its TCP server uses). Anything else (a regular file, a terminal, stdin and
stdout on one socket that non-blocking mode would share) goes to ``start_io``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
import threading
from typing import BinaryIO

from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

MAX_HEADER_LINE = 1 << 20


def loop_can_read(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """True when stdin is a pipe or socket of its own (safe to make non-blocking)."""
    try:
        fd_in, fd_out = stdin.fileno(), stdout.fileno()
        info_in, info_out = os.fstat(fd_in), os.fstat(fd_out)
    except (OSError, ValueError, AttributeError):
        return False
    if not (stat.S_ISFIFO(info_in.st_mode) or stat.S_ISSOCK(info_in.st_mode)):
        return False
    same_file = (info_in.st_dev, info_in.st_ino) == (info_out.st_dev, info_out.st_ino)
    return not same_file


def serve_stdio(server: LanguageServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """Serve LSP on stdio until the client says ``exit`` or closes stdin."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    if not loop_can_read(stdin, stdout):
        server.start_io(stdin, stdout)
        return
    stop = threading.Event()
    server._stop_event = stop  # pygls's shutdown() sets it; start_tcp does the same
    server.protocol.set_writer(StdoutWriter(stdout))
    try:
        asyncio.run(_read_loop(server, stdin, stop))
    except BrokenPipeError:
        log.error("the client closed stdout; shutting down")
    except (KeyboardInterrupt, SystemExit):  # ``exit`` ends the loop with SystemExit, as in start_io
        pass
    finally:
        server.shutdown()


async def _read_loop(server: LanguageServer, stdin: BinaryIO, stop: threading.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_HEADER_LINE)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    try:
        await run_async(stop_event=stop, reader=_EndTolerantReader(reader), protocol=server.protocol,
                        logger=log, error_handler=server.report_server_error)
    finally:
        with contextlib.suppress(Exception):
            transport.close()


class _EndTolerantReader:
    """End of input (or a header line past any sane length) reads as b"", which ends pygls's loop.

    pygls's thread reader behaves so at end of input; asyncio's raises instead.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def readline(self) -> bytes:
        try:
            return await self._reader.readline()
        except ValueError:  # LimitOverrunError: not an LSP header
            log.error("a header line over %d bytes on stdin: not LSP; stopping", MAX_HEADER_LINE)
            return b""

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            log.warning("stdin ended %d bytes into a %d-byte message", len(exc.partial), n)
            return b""
