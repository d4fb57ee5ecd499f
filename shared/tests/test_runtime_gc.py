"""Service processes tune the garbage collector once at start-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from wastex_shared.runtime import tune_garbage_collector
from wastex_shared.settings import ServiceSettings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    gc.unfreeze()
    _, middle, old = gc.get_threshold()
    tune_garbage_collector(ServiceSettings().gc_young_threshold)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (50_000, middle, old)
