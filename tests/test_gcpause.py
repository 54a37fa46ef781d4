"""gc_paused: the collector is off inside, the user's setting comes back, and what the block made
is promoted to the oldest generation without a collection (the user's frozen objects stay frozen)."""

from __future__ import annotations

import gc

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad import gcpause
from graphviz_ad.gcpause import gc_paused

generational = pytest.mark.skipif(not gcpause._GENERATIONAL, reason="a free-threaded build: no young generation")


class _Record:
    """A gc-tracked object, like the trace's records."""


@pytest.fixture
def collections():
    seen: list[int] = []

    def probe(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(probe)
    try:
        yield seen
    finally:
        gc.callbacks.remove(probe)


def _in_generation(obj: object, generation: int) -> bool:
    return any(o is obj for o in gc.get_objects(generation=generation))


@generational
def test_records_made_inside_go_to_the_oldest_generation_without_a_collection(collections):
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        records = [_Record() for _ in range(5000)]  # far past the young threshold
    assert gc.isenabled()
    assert _in_generation(records[0], 2) and _in_generation(records[-1], 2)
    assert not _in_generation(records[0], 0)
    assert gc.get_count()[0] < 100  # no young collection due right away
    assert collections == []


def test_a_disabled_collector_stays_disabled_and_nothing_is_moved():
    gc.disable()
    try:
        with gc_paused():
            record = _Record()
        assert not gc.isenabled()
        assert not _in_generation(record, 2)
    finally:
        gc.enable()


def test_the_users_frozen_objects_stay_frozen():
    gc.collect()
    mine = _Record()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            _Record()
        assert gc.get_freeze_count() == frozen  # no unfreeze of the user's objects
        assert not any(_in_generation(mine, g) for g in range(3))
    finally:
        gc.unfreeze()


@generational
def test_free_threaded_builds_skip_the_promotion(monkeypatch):
    """Without generations there is nothing to promote, and freezing would walk the whole heap."""
    monkeypatch.setattr(gcpause, "_GENERATIONAL", False)
    calls: list[str] = []
    monkeypatch.setattr(gcpause.gc, "freeze", lambda: calls.append("freeze"))
    with gc_paused():
        record = _Record()
    assert gc.isenabled() and calls == []
    assert not _in_generation(record, 2)


def test_restored_when_the_block_raises():
    with pytest.raises(KeyError):
        with gc_paused():
            raise KeyError("boom")
    assert gc.isenabled()


def test_trace_and_backward_leave_the_collector_as_found():
    x = torch.tensor([0.5, 1.5], requires_grad=True)
    gc.disable()
    try:
        t = gad.trace(lambda x: (x.sin() * 2).sum(), x)
        t.backward()
        t.to_json()
        assert not gc.isenabled()
    finally:
        gc.enable()
    t = gad.trace(lambda x: (x.sin() * 2).sum(), x)
    t.backward()
    assert gc.isenabled()


def test_a_dropped_trace_is_freed_without_the_collector():
    """No reference cycle keeps a trace alive (a frame kept by the recorder held its caller's
    locals): records promoted to the oldest generation would otherwise wait for a full collection."""
    import weakref

    from tests.helpers import leaves, nested_f

    def make() -> weakref.ref:
        t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0)).backward()
        t.to_json()
        t.stepper().text()
        return weakref.ref(t)

    def make_module() -> weakref.ref:
        model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
        t = gad.trace(model, torch.ones(1, 3)).backward(gradient=torch.ones(1, 2))
        t.to_json()
        return weakref.ref(t)

    gc.collect()
    gc.disable()
    try:
        assert make()() is None
        assert make_module()() is None
    finally:
        gc.enable()
