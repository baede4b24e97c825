"""The bounded LRU map behind the server's caches."""

from __future__ import annotations

from lod_publisher.lru import BoundedLru


def test_the_least_recently_used_entry_goes_first() -> None:
    lru: BoundedLru[str, int] = BoundedLru(max_entries=2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # now b is the least recently used
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    assert len(lru) == 2


def test_bytes_are_bounded_and_large_values_refused() -> None:
    lru: BoundedLru[str, bytes] = BoundedLru(max_entries=10, max_bytes=10, max_item_bytes=4)
    assert not lru.put("big", b"12345", 5)
    for key in "abc":
        assert lru.put(key, b"1234", 4)
    assert "a" not in lru and lru.size == 8  # a third of 4 bytes pushed the first out
    assert lru.put("b", b"1", 1)  # replacing counts the new size only
    assert lru.size == 5


def test_get_or_make_keeps_none_and_makes_once() -> None:
    lru: BoundedLru[str, int | None] = BoundedLru(max_entries=4)
    made: list[str] = []

    def make() -> None:
        made.append("x")

    assert lru.get_or_make("k", make) is None
    assert lru.get_or_make("k", make) is None
    assert made == ["x"]


def test_no_entries_keeps_nothing() -> None:
    lru: BoundedLru[str, int] = BoundedLru(max_entries=0, max_bytes=100)
    assert not lru.put("a", 1)
    assert lru.get("a") is None
