"""The server's collector settings: tuned at start, the index frozen once initialize loaded it, off while publishing."""

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


def test_diagnostics_are_written_before_the_collector_runs_again():
    """The young pass over a new tree comes after the editor has its diagnostics, not before."""
    from gerbil_lsp.server.features import diagnostics

    enabled_while_sending = []

    class Server:
        def document(self, uri):
            return object()

        def analysis(self, uri):
            return None

        def text_document_publish_diagnostics(self, params):
            enabled_while_sending.append(gc.isenabled())

    assert gc.isenabled()
    diagnostics.publish(Server(), "file:///big.ss")
    assert enabled_while_sending == [False]
    assert gc.isenabled()
