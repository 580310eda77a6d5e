"""Garbage-collector settings for a server that keeps a large index and rebuilds syntax trees per edit.

CPython's cyclic collector makes a young-generation pass every 700 container
allocations, and every pass walks the objects that survived the last ones.
Reading and analysing a 5,000-line file allocates some 100,000 nodes, so with the
defaults the passes cost as much as the reading (bench/lsp_diagnostics.py shows
both figures). Syntax trees hold no cycles (a node knows its children, never its
parent): reference counting frees them the moment an analysis is replaced, so
collecting less often keeps no garbage longer. The index is loaded once and kept
for the session; ``gc.freeze`` takes it out of every later pass.
"""

from __future__ import annotations

import gc

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


def tune_for_server(server) -> None:
    """Both, for a server process: tune now; freeze once initialize has loaded the index."""
    tune_collector()
    server.on_initialized.append(freeze_long_lived)
