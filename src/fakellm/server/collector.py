"""Building a big config without stalling the event loop on Python's garbage collector.

A 20,000-rule config is about a million objects. Built with the collector on, each full
collection walks the whole growing heap holding the GIL (a quarter of a second and more), so
the event loop stalls even though the build runs in a worker thread; and once the build is
done, the first young-generation collection walks all million new objects at once.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


# Fewer new objects than this are left to the young generation: collecting them is quick.
MANY_OBJECTS = 100_000


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off. If it made many objects, file them with the
    oldest (freeze and unfreeze move every tracked object to the oldest generation without walking
    them): they are looked at by the next full collection, like the rest of a long-lived heap.
    Reference counting frees the block's garbage as usual meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] > MANY_OBJECTS:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
