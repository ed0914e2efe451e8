"""Dedup by key with bounded memory (LRU, optionally time-bounded)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError
from collectorkit._records import Record, record_key
from collectorkit.pipeline._base import BaseProcessor

__all__ = ["DedupProcessor"]


class DedupProcessor(BaseProcessor):
    """Drops records whose key was seen recently.

    The key is built like the sinks' idempotency key (:func:`collectorkit.record_key`) from
    ``key`` (one dotted path or several; none: a content hash). At most ``max_size`` keys are
    remembered (least recently seen forgotten first), each for at most ``ttl`` seconds when set.

    Keys seen since the last :meth:`commit` are *pending*: :meth:`rollback` forgets them, so a
    batch that failed to reach the sinks is not dropped as a duplicate when it is fetched again.
    The delivery loop calls both; used alone, pending keys are committed every ``max_size`` keys.
    """

    def __init__(
        self,
        key: str | Sequence[str] | None = "id",
        *,
        max_size: int = 100_000,
        ttl: float | None = None,
        clock: Clock | None = None,
        name: str = "dedup",
    ) -> None:
        if max_size < 1:
            raise ConfigError(f"must be >= 1, got {max_size!r}", path="max_size")
        if ttl is not None and ttl <= 0:
            raise ConfigError(f"must be > 0 seconds, got {ttl!r}", path="ttl")
        self.name = name
        self.key_fields: tuple[str, ...] = (
            () if key is None else (key,) if isinstance(key, str) else tuple(key)
        )
        self.max_size = max_size
        self.ttl = ttl
        self._clock: Clock = clock or SystemClock()
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._pending: list[str] = []
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, key: object) -> bool:
        return key in self._seen

    def __call__(self, record: Record) -> Record | None:
        now = self._clock.monotonic()
        self._expire(now)
        key = record_key("", record, self.key_fields)
        if key in self._seen:
            self._seen.move_to_end(key)
            self._seen[key] = now
            self.duplicates += 1
            return None
        self._seen[key] = now
        self._pending.append(key)
        if len(self._pending) >= self.max_size:
            self._pending.clear()
        while len(self._seen) > self.max_size:
            self._seen.popitem(last=False)
        return record

    def _expire(self, now: float) -> None:
        if self.ttl is None:
            return
        horizon = now - self.ttl
        seen = self._seen
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > horizon:
                break
            del seen[oldest]

    def commit(self) -> None:
        self._pending.clear()

    def rollback(self) -> None:
        for key in self._pending:
            self._seen.pop(key, None)
        self._pending.clear()
