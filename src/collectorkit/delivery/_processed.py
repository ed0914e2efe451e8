"""Seed 002's ``processed_alert_ids``: a bounded set of ids already handled, kept across restarts.

:class:`ProcessedIds` remembers at most ``capacity`` ids, forgetting the oldest first (insertion
order), so memory stays bounded however long the poller runs. :class:`PersistentProcessedIds`
loads and saves the set in a :class:`~collectorkit.typing.StateStore` (namespace
``processed_ids``, one key per source): a restarted daemon does not call the new-alert callbacks
again for alerts it had already handled.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator

from collectorkit._errors import ConfigError
from collectorkit.typing import StateStore

__all__ = ["NAMESPACE", "PersistentProcessedIds", "ProcessedIds"]

NAMESPACE = "processed_ids"


class ProcessedIds:
    """An insertion-ordered set of at most ``capacity`` ids (oldest evicted first)."""

    __slots__ = ("_capacity", "_ids")

    def __init__(self, capacity: int = 10_000, ids: Iterable[str] = ()) -> None:
        if capacity < 1:
            raise ConfigError(f"must be >= 1, got {capacity!r}", path="dedup.capacity")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self.update(ids)

    @property
    def capacity(self) -> int:
        return self._capacity

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def add(self, item: str) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def update(self, items: Iterable[str]) -> None:
        for item in items:
            self.add(item)

    def new(self, items: Iterable[str]) -> list[str]:
        """The ``items`` not yet seen (each once, in order), without adding them."""
        seen: set[str] = set()
        out: list[str] = []
        for item in items:
            if item not in self._ids and item not in seen:
                seen.add(item)
                out.append(item)
        return out


class PersistentProcessedIds(ProcessedIds):
    """:class:`ProcessedIds` saved in a state store under ``(processed_ids, source)``."""

    __slots__ = ("_dirty", "_key", "_store")

    def __init__(self, store: StateStore, key: str, *, capacity: int = 10_000) -> None:
        super().__init__(capacity)
        self._store = store
        self._key = key
        self._dirty = False

    async def load(self) -> None:
        stored = await self._store.get(NAMESPACE, self._key)
        if stored is not None:
            ids = stored.value.get("ids", [])
            if isinstance(ids, list):
                self.update(str(i) for i in ids)
        self._dirty = False

    def add(self, item: str) -> None:
        super().add(item)
        self._dirty = True

    async def save(self) -> None:
        """Write the set if it changed since the last load or save."""
        if not self._dirty:
            return
        await self._store.put(NAMESPACE, self._key, {"ids": list(self), "capacity": self.capacity})
        self._dirty = False
