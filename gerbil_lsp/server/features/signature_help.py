"""textDocument/signatureHelp: the signatures of the call around the cursor, with the active parameter."""

from __future__ import annotations

import re

from lsprotocol import types

from gerbil_lsp.core.reader import NodeKind
from gerbil_lsp.server.features.positions import offset_of

_PARAM = re.compile(r"\[[^\]]*\]|\([^()]*\)|[^\s()\[\]]+")


def _parameters(signature: str) -> list[str]:
    """`(name a (b 1) . rest) -> ret` -> ['a', '(b 1)', '. rest']."""
    inner = signature.split("->")[0].strip()
    if inner.startswith("("):
        inner = inner[1:]
    inner = inner.rsplit(")", 1)[0]
    tokens = _PARAM.findall(inner)[1:]
    params, pending_dot = [], False
    for token in tokens:
        if token == ".":
            pending_dot = True
            continue
        params.append(f". {token}" if pending_dot else token)
        pending_dot = False
    return params


def _signatures(analysis, name: str) -> list[str]:
    local = analysis.definitions.get(name)
    if local is not None and local.signature:
        return [local.signature]
    symbol = analysis.resolve(name)
    return list(symbol.signatures) if symbol is not None else []


def register(server) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_SIGNATURE_HELP,
        types.SignatureHelpOptions(trigger_characters=[" ", "("], retrigger_characters=[" "]),
    )
    def signature_help(params: types.SignatureHelpParams) -> types.SignatureHelp | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        offset = offset_of(analysis, params.position)
        path = analysis.result.node_at(offset)
        call = next((n for n in reversed(path) if n.kind is NodeKind.LIST and n.head and n.start < offset), None)
        if call is None:
            return None
        signatures = _signatures(analysis, call.head)
        if not signatures:
            return None
        # Arguments finished before the cursor; `(f a|` is still typing the first one.
        argument = sum(1 for child in call.children[1:] if child.end < offset)
        infos = []
        for signature in signatures:
            params = _parameters(signature)
            infos.append(types.SignatureInformation(
                label=signature,
                parameters=[types.ParameterInformation(label=p) for p in params],
                active_parameter=_active(params, argument),
            ))
        return types.SignatureHelp(signatures=infos, active_signature=0, active_parameter=infos[0].active_parameter)


def _active(params: list[str], argument: int) -> int | None:
    if not params:
        return None
    if argument >= len(params) and params[-1].startswith("."):
        return len(params) - 1
    return min(argument, len(params) - 1)
