"""The byte-bounded cache behind the document cache and the persisted-query store."""

from __future__ import annotations

from velro_graphql.bounded_cache import BoundedCache


def test_the_least_recently_used_go_first_past_the_bound() -> None:
    cache = BoundedCache[str, str](10, len)
    for key in "abc":
        cache.put(key, key * 3)
    assert cache.get("a") == "aaa"  # now the most recently used
    cache.put("d", "ddd")
    assert "b" not in cache and all(k in cache for k in "acd")
    assert cache.bytes == 9


def test_an_entry_heavier_than_the_bound_is_not_kept() -> None:
    cache = BoundedCache[str, str](4, len)
    cache.put("big", "x" * 5)
    assert "big" not in cache and cache.bytes == 0


def test_by_default_it_counts_entries_and_keeps_none_values() -> None:
    cache = BoundedCache[str, str | None](2)
    cache.put("a", None)
    assert "a" in cache and cache.get("a") is None  # a kept None, not a miss
    cache.put("b", "x")
    cache.put("b", "y")  # replaced, not a second entry
    assert cache.get("b") == "y" and cache.bytes == 2
    cache.put("c", "z")
    assert "a" not in cache and "b" in cache and "c" in cache
