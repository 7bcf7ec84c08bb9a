"""Python's cyclic garbage collector around the engine's long batches.

The engine makes no garbage cycles in its folds and its lifecycle commands: what they drop is
freed by reference counting. The cyclic collector still walks the heap now and then, and a
full walk (the oldest generation) grows with everything the process keeps: the aggregate
cache, the read models' states. On a renewal day of 100,000 it ran 52 times and took 41 of the
busy tick's 224 seconds (docs/BENCHMARKS.md, "Issue 22: the renewal day of 100,000 on a quiet
machine"). Two ways of keeping it out of a long batch:

- :func:`no_cyclic_gc` pauses it for the whole batch (a rebuild: it keeps what it makes to
  the end);
- :func:`young_collections_only` pauses it too, and hands the batch a function that collects
  the young generations (``gc.collect(1)``): the scheduler's tick calls it after each page, so
  a cycle made by accident (an exception's traceback) is freed within a page, while the old
  generation is left for the collector's own rule once the tick is over.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector paused until the block ends (then as it was)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def young_collections_only() -> Iterator[Callable[[], int]]:
    """:func:`no_cyclic_gc`, yielding a function that collects the young generations now and
    returns how many unreachable objects it found."""
    with no_cyclic_gc():
        yield lambda: gc.collect(1)


def freeze_what_startup_made() -> int:
    """Collect once, then move everything the process holds into the collector's permanent
    generation (``gc.freeze``): the modules, the templates, the routes and the fonts a served
    engine loads at startup are never walked again. Without it a full collection of a served
    engine took 44 to 88 ms, every 3 to 4 seconds under load, and every request that arrived
    meanwhile waited: the whole of the open loop's p99 (docs/BENCHMARKS.md, "Issue 22: the
    open loop's tail was the garbage collector"). Reference counting still frees what is
    frozen once it is dropped. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
