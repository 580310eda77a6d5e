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


def test_a_replaced_analysis_is_freed_at_once_not_left_to_the_collector():
    """The collector runs rarely in the server: an analysis in a reference cycle would keep its whole
    syntax tree until a full pass. Dropped, each one must go by reference counting alone."""
    import weakref

    from gerbil_lsp.core.index import default_index
    from gerbil_lsp.server.analysis import analyze

    text = "(import :std/iter)\n(defrules twice () ((_ e) (begin e e)))\n(def (f xs) (twice (for-each displayln xs)))\n"
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        first = analyze(text, "file:///a.ss", default_index())
        first.problems, first.top_level, first.definitions  # noqa: B018 - every lazy part, macros included
        second = analyze(text + "(f '(1))\n", "file:///a.ss", default_index(), previous=first)
        second.problems  # noqa: B018
        gone = [weakref.ref(first), weakref.ref(second), weakref.ref(first.macros), weakref.ref(second.macros)]
        del first, second
        assert [ref() for ref in gone] == [None] * 4
    finally:
        if was_enabled:
            gc.enable()
