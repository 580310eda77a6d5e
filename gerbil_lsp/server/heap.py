"""Garbage-collector settings for a server that keeps a large index and rebuilds syntax trees per edit.

CPython's cyclic collector makes a young-generation pass every 700 container
allocations, and every pass walks the objects that survived the last ones.
Reading and analysing a 5,000-line file allocates some 100,000 nodes, so with the
defaults the passes cost as much as the reading (bench/lsp_diagnostics.py shows
both figures). Syntax trees hold no cycles (a node knows its children, never its
parent): reference counting frees them the moment an analysis is replaced, so
collecting less often keeps no garbage longer. The index is loaded once and kept
for the session; ``gc.freeze`` takes it out of every later pass, and a big file
read whole is frozen the same way (:func:`built_out_of_sight`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from gerbil_lsp.core import collector

# A young pass every 50,000 allocations instead of 700, and the older generations 100 passes apart
# instead of 10: with the defaults, full passes over the open documents' trees made one analysis in
# five take 300 ms (bench/lsp_diagnostics.py). Cyclic garbage (asyncio's exceptions and the like)
# still goes, a few megabytes later.
SERVER_THRESHOLDS = (50_000, 100, 100)


def tune_collector() -> None:
    """Collect rarely: our garbage is freed by reference counting, not by the collector."""
    gc.set_threshold(*SERVER_THRESHOLDS)


def freeze_long_lived(*_: object) -> None:
    """Move everything alive now (the index, settings, modules) out of the collector's passes."""
    gc.collect()
    gc.freeze()


# A document this big (about 2,500 lines) read whole leaves enough nodes for the young pass to cost
# more than 10 ms; a whole read leaves at least this many new objects, a re-read of an edit far fewer.
BIG_DOCUMENT_CHARS = 100_000
WHOLE_READ_OBJECTS = 20_000
# Frozen builds between two full passes over everything, frozen included (see reclaim_if_due).
RECLAIM_EVERY = 100


class _Frozen:
    builds = 0  # big whole reads frozen since the last full pass


@contextmanager
def built_out_of_sight(size: int) -> Iterator[None]:
    """Build a big document's analysis with the collector off; a whole read then leaves its sight.

    The next young pass would walk every node of a tree just read whole (20 ms for 5,000 lines,
    on the event loop, in the way of the next keystroke) and find nothing: the tree holds no
    cycles. So for a big document the young generations are collected first (the few objects
    made since the last keystroke), and when the build turns out to be a whole read, the new
    objects are frozen (``gc.freeze``). Reference counting still frees them when the analysis is
    replaced; the collector just never walks them. Collecting first is what keeps garbage from
    before (cycles the HTTP clients leave) from being frozen along with them. What is alive at
    that moment is frozen too, and what of it later dies in a cycle stays until
    :func:`reclaim_if_due`: about one closed HTTP connection, 30 objects, per big file read whole
    (10 opens among 200 model completions).
    """
    if size < BIG_DOCUMENT_CHARS:  # the reader pauses the collector itself; nothing more to do
        yield
        return
    gc.collect(1)
    with collector.paused():
        yield
        if gc.get_count()[0] >= WHOLE_READ_OBJECTS:
            gc.freeze()
            _Frozen.builds += 1


def reclaim_if_due(every: int = RECLAIM_EVERY) -> bool:
    """After ``every`` frozen builds, one full pass over everything: what froze alive and died since goes.

    The rest is frozen again. The pass walks the index and the open trees (some 45 ms with
    the bundled index), once per ``every`` big whole reads, each of which saved a 20 ms young
    pass: call it where a pause costs least, after the diagnostics are out.
    """
    if _Frozen.builds < every:
        return False
    _Frozen.builds = 0
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return True


def tune_for_server(server) -> None:
    """Both, for a server process: tune now; freeze once initialize has loaded the index."""
    tune_collector()
    server.on_initialized.append(freeze_long_lived)
