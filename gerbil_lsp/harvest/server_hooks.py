"""Plugging harvesting into a running language server (at start-up, from the CLI).

The server imports no part; this module is handed to it as an extension. When
the workspace has opted in (``harvest.enabled``), it follows documents and shown
/accepted model completions, and shows retrain progress in the editor.
"""

from __future__ import annotations

import asyncio
import logging

from gerbil_lsp.harvest.acceptance import HarvestHooks
from gerbil_lsp.harvest.privacy import HarvestPolicy
from gerbil_lsp.harvest.progress import RetrainProgress

log = logging.getLogger(__name__)


def attach_to_server(server) -> None:
    server.on_initialized.append(_start)


def _start(server) -> None:
    harvest = server.settings.settings.harvest
    if not harvest.enabled:
        return
    roots = [server.workspace_root] if server.workspace_root else []
    policy = HarvestPolicy.from_settings(extra_roots=roots, init_options=getattr(server, "_init_options", None))
    if not policy.enabled_roots():
        return
    hooks = HarvestHooks(policy=policy, settle_s=harvest.settle_seconds)
    server.document_listeners.append(hooks)
    if server.model is not None:
        server.model.on_shown.append(hooks.on_shown)
        server.model.on_accepted.append(hooks.on_accepted)
    try:
        asyncio.get_running_loop().create_task(RetrainProgress(server).run())
    except RuntimeError:
        log.info("no event loop: retrain progress will not be shown")
    log.info("harvesting from %s", ", ".join(str(r) for r in policy.enabled_roots()))
