"""What survives a full collection is frozen; the frozen set is given back now and then."""

from __future__ import annotations

import gc

from velro_graphql.api.collector import FreezeSurvivors


def test_survivors_of_a_full_collection_are_frozen_and_thawed_in_time() -> None:
    collector = FreezeSurvivors(thaw_seconds=3600)
    collector.install()
    try:
        kept = [[n] for n in range(1000)]  # long-lived objects, tracked by the collector
        gc.collect()
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)  # survivors moved out of later collections
        collector.thaw_seconds = 0
        gc.collect()  # due to thaw: handed back to the collector
        assert gc.get_freeze_count() == 0
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cyclic garbage is still collected
    finally:
        collector.remove()
        gc.unfreeze()
    assert collector not in gc.callbacks
