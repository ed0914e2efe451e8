"""The in-memory state store: for tests and development. Everything is lost on exit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectorkit._clock import Clock, SystemClock
from collectorkit._lifecycle import AsyncResource
from collectorkit.state._values import (
    check_names,
    check_put,
    conflict_error,
    decode_value,
)
from collectorkit.typing import StoredValue

__all__ = ["MemoryStateStore"]


class MemoryStateStore(AsyncResource):
    """A :class:`~collectorkit.typing.StateStore` in a dict, with the same compare-and-set rules.

    Values are copied through JSON on the way in and out, so a caller mutating a value it passed
    or received never changes what is stored, and what cannot be persisted fails here too.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._data: dict[tuple[str, str], tuple[str, int, float]] = {}

    def __repr__(self) -> str:
        return f"MemoryStateStore(keys={len(self._data)})"

    async def get(self, namespace: str, key: str) -> StoredValue | None:
        check_names(namespace, key)
        found = self._data.get((namespace, key))
        if found is None:
            return None
        return StoredValue(decode_value(found[0]), found[1], found[2])

    async def put(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        if_version: int | None = None,
    ) -> int:
        text = check_put(namespace, key, value, if_version)
        current = self._data.get((namespace, key))
        version = current[1] if current else 0
        if if_version is not None and if_version != version:
            raise conflict_error(namespace, key, if_version, version)
        self._data[(namespace, key)] = (text, version + 1, self._clock.time())
        return version + 1

    async def delete(self, namespace: str, key: str) -> bool:
        check_names(namespace, key)
        return self._data.pop((namespace, key), None) is not None

    async def list(self, namespace: str) -> dict[str, StoredValue]:
        check_names(namespace)
        return {
            key: StoredValue(decode_value(text), version, updated)
            for (ns, key), (text, version, updated) in sorted(self._data.items())
            if ns == namespace
        }

    async def ping(self) -> None:
        """Always reachable."""

    async def aclose(self) -> None:
        """Nothing to release; the data stays until the object is dropped."""
