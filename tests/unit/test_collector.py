"""The cyclic collector around long batches (adapters/collector.py): paused inside, as it was
after, and a young collection on demand still frees a cycle made inside."""

from __future__ import annotations

import gc
import weakref

import pytest

from adapters.collector import freeze_what_startup_made, no_cyclic_gc, young_collections_only


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_paused_inside_and_as_it_was_after(collector_on):
    with no_cyclic_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with young_collections_only():
        assert not gc.isenabled()
    assert not gc.isenabled()  # it was off before: it stays off
    gc.enable()


def test_a_young_collection_frees_a_cycle_made_inside_the_batch(collector_on):
    with young_collections_only() as collect_young:
        node = _Node()
        gone = weakref.ref(node)
        del node
        assert gone() is not None  # nobody collected it
        assert collect_young() >= 1
        assert gone() is None


def test_an_exception_leaves_the_collector_as_it_was(collector_on):
    with pytest.raises(RuntimeError), young_collections_only():
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_what_startup_made_is_frozen_out_of_later_collections():
    """``billing serve`` freezes what startup made: a full collection then walks only what
    came after (adapters/collector.py)."""
    try:
        kept = [_Node() for _ in range(10)]  # alive at startup, and cyclic
        frozen = freeze_what_startup_made()
        assert frozen >= len(kept) and gc.get_freeze_count() == frozen
        walked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert not any(id(n) in walked for n in kept)
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
