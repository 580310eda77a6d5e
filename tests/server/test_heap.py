"""The server's collector settings: tuned at start, the index frozen once initialize loaded it."""

from __future__ import annotations

import gc

from gerbil_lsp.server import create_server, heap


def test_server_collects_rarely_and_freezes_what_initialize_loaded():
    before = gc.get_threshold()
    server = create_server()
    try:
        heap.tune_for_server(server)
        assert gc.get_threshold() == heap.SERVER_THRESHOLDS
        assert heap.freeze_long_lived in server.on_initialized  # run by the initialize handler
        kept = [object() for _ in range(10)]
        heap.freeze_long_lived(server)
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
