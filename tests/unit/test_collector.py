import gc

import pytest

from pelastus_hub.runtime import collector


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_the_process_holds_and_spaces_young_collections(restored_collector):
    held = [object() for _ in range(3)]
    collector.settle()
    assert gc.get_freeze_count() >= len(held)
    assert gc.get_threshold()[0] == collector.YOUNG_COLLECTION_THRESHOLD


def test_garbage_made_after_settling_is_still_collected(restored_collector):
    collector.settle()

    class Node:
        pass

    cycle = Node()
    cycle.other = Node()
    cycle.other.other = cycle
    del cycle
    assert gc.collect() >= 2
