"""The server's collector settings: tuned at start, the index frozen once initialize loaded it, off while publishing."""

from __future__ import annotations

import gc
import weakref

import pytest

from gerbil_lsp.core.index import default_index
from gerbil_lsp.server import create_server, heap
from gerbil_lsp.server.analysis import analyze


@pytest.fixture
def collector_off():
    """The collector off, as the server has it while it builds; after, nothing left frozen and it is back on."""
    yield


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


class _PublishingServer:
    """Just enough of the server for ``diagnostics.publish``: an open document with nothing to report."""

    def __init__(self, on_send) -> None:
        self.on_send = on_send

    def document(self, uri):
        return object()

    def analysis(self, uri):
        return None

    def text_document_publish_diagnostics(self, params):
        self.on_send()


def test_diagnostics_are_written_before_the_collector_runs_again():
    """The young pass over a new tree comes after the editor has its diagnostics, not before."""
    from gerbil_lsp.server.features import diagnostics

    enabled_while_sending = []
    assert gc.isenabled()
    diagnostics.publish(_PublishingServer(lambda: enabled_while_sending.append(gc.isenabled())), "file:///big.ss")
    assert enabled_while_sending == [False]
    assert gc.isenabled()


def test_a_replaced_analysis_is_freed_at_once_not_left_to_the_collector(collector_off):
    """The collector runs rarely in the server: an analysis in a reference cycle would keep its whole
    syntax tree until a full pass. Dropped, each one must go by reference counting alone."""
    text = "(import :std/iter)\n(defrules twice () ((_ e) (begin e e)))\n(def (f xs) (twice (for-each displayln xs)))\n"
    first = analyze(text, "file:///a.ss", default_index())
    first.problems, first.top_level, first.definitions  # noqa: B018 - every lazy part, macros included
    second = analyze(text + "(f '(1))\n", "file:///a.ss", default_index(), previous=first)
    second.problems  # noqa: B018
    gone = [weakref.ref(first), weakref.ref(second), weakref.ref(first.macros), weakref.ref(second.macros)]
    del first, second
    assert [ref() for ref in gone] == [None] * 4


def _big_text(forms: int = 1000) -> str:
    form = "(def (count-{n} text)\n  (let ((table (make-hash-table)))\n    (hash-update! table text 1+ 0)\n    (hash->list table)))\n"
    return "(import :std/iter)\n" + "".join(form.format(n=i) for i in range(forms))


class _Cycle:
    """Cyclic garbage, as the HTTP clients leave it; weakly referable, to see whether it was collected."""

    def __init__(self) -> None:
        self.me = self


def test_a_big_document_read_whole_is_frozen_and_the_garbage_from_before_is_collected_first(collector_off):
    text = _big_text()
    assert len(text) >= heap.BIG_DOCUMENT_CHARS
    index = default_index()
    garbage = _Cycle()
    dead = weakref.ref(garbage)
    del garbage
    frozen_before = gc.get_freeze_count()
    with heap.built_out_of_sight(len(text)):
        analysis = analyze(text, "file:///big.ss", index)
    nodes = sum(1 for form in analysis.result.forms for _ in form.walk())
    assert dead() is None  # collected before the freeze, not frozen with the tree
    assert gc.get_freeze_count() - frozen_before >= nodes  # the tree is out of the collector's passes
    assert gc.get_count()[0] < 100  # ... so the next young pass has nothing of it to walk
    # frozen, it is still freed by reference counting the moment it is dropped
    gone = weakref.ref(analysis)
    del analysis
    assert gone() is None


def test_a_small_document_and_an_edit_re_read_in_place_are_not_frozen(collector_off):
    index = default_index()
    text = _big_text()
    edited = text.replace("(count-500 text)", "(count-500 texts)")
    with heap.built_out_of_sight(len(text)):
        first = analyze(text, "file:///big.ss", index)
    frozen = gc.get_freeze_count()
    with heap.built_out_of_sight(len(edited)):  # one form read again, the others moved: few new objects
        second = analyze(edited, "file:///big.ss", index, previous=first)
    assert second.result.text == edited
    with heap.built_out_of_sight(100):
        analyze(_big_text(3), "file:///small.ss", index)
    assert gc.get_freeze_count() == frozen


def test_what_froze_alive_and_died_in_a_cycle_goes_at_the_next_reclaim(collector_off):
    text = _big_text()
    index = default_index()
    heap.reclaim_if_due(every=0)  # start the count afresh
    alive = _Cycle()  # alive at the freeze (an HTTP connection in the pool, say) ...
    dead = weakref.ref(alive)
    with heap.built_out_of_sight(len(text)):
        analysis = analyze(text, "file:///big.ss", index)
    del alive  # ... and dead in a cycle since
    gc.collect()
    assert dead() is not None  # frozen: no pass sees it
    assert not heap.reclaim_if_due(every=2)  # one frozen build so far
    assert heap.reclaim_if_due(every=1)
    assert dead() is None
    assert gc.get_freeze_count() > len(analysis.result.forms)  # what is alive is frozen again


def test_the_reclaim_comes_after_the_diagnostics_are_written(monkeypatch):
    from gerbil_lsp.server.features import diagnostics

    events = []
    monkeypatch.setattr(heap, "reclaim_if_due", lambda: events.append("reclaim"))
    diagnostics.publish(_PublishingServer(lambda: events.append("sent")), "file:///big.ss")
    assert events == ["sent", "reclaim"]
