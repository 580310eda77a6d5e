"""The cyclic garbage collector, paused while we build big acyclic trees.

Syntax trees, index rows and dataset entries hold no reference cycles (a node
knows its children, never its parent): what we drop is freed by reference
counting at once. The collector's passes over them find nothing, and with many
trees alive they cost as much as the work itself (reading 2-3x slower, an index
build or a data build seconds longer, diagnostics on a 5,000-line file some 20
ms longer). So the code that builds them pauses it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off inside, and back on after if it was on (nesting is fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
