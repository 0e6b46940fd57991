"""The collector policy of a long-running agent (mipd.runtime.collector): a full collection that found no
cyclic garbage freezes what it walked; one that found some, and young collections, freeze nothing; frozen
objects are still freed by reference counting."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from mipd.runtime import collector


class Node:
    """A tracked object like a binding: long-lived, in no reference cycle."""

    def __init__(self, peer: object = None) -> None:
        self.peer = peer


@pytest.fixture
def policy() -> Iterator[None]:
    gc.collect()  # the process's cyclic garbage so far: not this test's
    collector.freeze_after_barren_full_collections()
    try:
        yield
    finally:
        collector.freeze_after_barren_full_collections(False)
        gc.unfreeze()


def test_a_full_collection_that_finds_nothing_freezes_what_it_walked(policy):
    table = {i: [Node()] for i in range(5_000)}
    before = gc.get_freeze_count()
    gc.collect(1)  # a young collection walks them and freezes nothing
    assert gc.get_freeze_count() == before
    gc.collect()
    assert gc.get_freeze_count() >= before + 10_000  # the lists and the nodes
    assert not any(o is table for o in gc.get_objects())  # out of every later collection
    witness = weakref.ref(table[0][0])
    del table
    assert witness() is None  # frozen, and still freed once unreferenced


def test_a_full_collection_that_finds_cyclic_garbage_freezes_nothing(policy):
    keep = [Node() for _ in range(1_000)]
    for _ in range(10):
        a = Node()
        a.peer = Node(a)  # a cycle, garbage once `a` is rebound
    del a
    before = gc.get_freeze_count()
    assert gc.collect() >= 2
    assert gc.get_freeze_count() == before
    assert any(o is keep for o in gc.get_objects())


def test_installed_once_and_removed():
    try:
        collector.freeze_after_barren_full_collections()
        collector.freeze_after_barren_full_collections()
        assert sum(c is collector._after_collection for c in gc.callbacks) == 1
    finally:
        collector.freeze_after_barren_full_collections(False)
    assert collector._after_collection not in gc.callbacks


def test_paused_holds_collections_off_and_freezes_what_the_body_made():
    """A reload's parse runs under `paused`: no collection meanwhile, what it made frozen after, the collector
    enabled again only if it was."""
    try:
        before = gc.get_freeze_count()
        with collector.paused():
            assert not gc.isenabled()
            made = [Node() for _ in range(1_000)]
        assert gc.isenabled() and gc.get_freeze_count() >= before + 1_000
        assert not any(o is made for o in gc.get_objects())
        gc.disable()
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
