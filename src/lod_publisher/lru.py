"""A least-recently-used map bounded by entries and by bytes, safe to share between threads.

The server keeps several things that never change within a build (rendered documents,
SPARQL results, which queries are quick); each is one of these, so that none can grow
without bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_MISSING = object()


class BoundedLru(Generic[K, V]):
    """At most ``max_entries`` values and ``max_bytes`` of their stated sizes.

    A value larger than ``max_item_bytes`` is not kept. Adding past a bound drops the
    least recently used values; :meth:`get` counts as a use.
    """

    def __init__(
        self, max_entries: int, max_bytes: int = 0, max_item_bytes: int | None = None
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_item_bytes = max_bytes if max_item_bytes is None else max_item_bytes
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value under ``key``, or None if none is kept."""
        found = self._find(key)
        return None if found is _MISSING else found  # type: ignore[return-value]

    def get_or_make(
        self, key: K, make: Callable[[], V], size: Callable[[V], int] | None = None
    ) -> V:
        """The value under ``key``, made by ``make()`` and kept if there is none.

        ``make`` runs outside the lock: two threads may make the same value at once, and
        both get it. A value may be None.
        """
        found = self._find(key)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        value = make()
        self.put(key, value, 0 if size is None else size(value))
        return value

    def _find(self, key: K) -> object:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return _MISSING
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V, size: int = 0) -> bool:
        """Keep ``value`` under ``key`` (replacing any); False if it is too large to keep."""
        if size > self.max_item_bytes or self.max_entries <= 0:
            return False
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return True

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """The sum of the kept values' sizes."""
        return self._bytes
