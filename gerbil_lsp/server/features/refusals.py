"""Requests the server answers with a reason instead of a result (a rename it will not make, a file it cannot format)."""

from __future__ import annotations

import logging

from lsprotocol import types
from pygls.exceptions import JsonRpcException


class Refused(JsonRpcException):
    """LSP's RequestFailed with the reason, which the editor shows the user."""

    CODE = types.LSPErrorCodes.RequestFailed


class _QuietRefusals(logging.Filter):
    """A refusal is an answer, not a failure: pygls would log its traceback in the editor's server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], Refused))


def keep_refusals_out_of_the_log() -> None:
    rpc_log = logging.getLogger("pygls.protocol.json_rpc")
    if not any(isinstance(f, _QuietRefusals) for f in rpc_log.filters):
        rpc_log.addFilter(_QuietRefusals())
