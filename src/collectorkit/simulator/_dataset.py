"""The records one profile serves: generated from a seed, growing and mutating as faults say.

Each record has an event time (the vendor's primary timestamp), a persistence sequence ``seq``
(the order records were written, which is what feed/polling cursors follow), an insert time, an
update time and a version. Late arrivals get a fresh ``seq`` and insert time but an old event
time; updates bump the version and update time and give the record a fresh ``seq`` so feeds
re-deliver it.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Dataset", "FieldFactory", "StoredRecord", "ViewKey"]

FieldFactory = Callable[[random.Random, int], dict[str, Any]]
"""Makes the vendor-specific fields of record number ``index`` (ids included)."""

ViewKey = str
"""``"event"``, ``"inserted"``, ``"updated"``: which time a sorted view orders by."""


@dataclass(slots=True)
class StoredRecord:
    """One record as the simulator keeps it; vendors render it into their JSON shape."""

    id: str
    event_ms: int
    seq: int
    inserted_ms: int
    updated_ms: int
    version: int = 1
    fields: dict[str, Any] = field(default_factory=dict)

    def time(self, key: ViewKey) -> int:
        if key == "event":
            return self.event_ms
        if key == "inserted":
            return self.inserted_ms
        return self.updated_ms


class Dataset:
    """The records of one profile. Not thread-safe by itself: the simulator holds a lock.

    ``id_field`` names the field of ``factory``'s output that is the record's id. ``granularity``
    rounds event times (1000 for APIs with second timestamps, such as Slack).
    """

    def __init__(
        self,
        *,
        factory: FieldFactory,
        id_field: str,
        rng: random.Random,
        granularity: int = 1,
    ) -> None:
        self._factory = factory
        self._id_field = id_field
        self._rng = rng
        self._granularity = max(1, granularity)
        self._records: dict[str, StoredRecord] = {}
        self._feed: list[tuple[int, StoredRecord]] = []  # (seq, record); stale when seq moved
        self._seq = 0
        self._made = 0
        self._views: dict[ViewKey, tuple[list[tuple[int, str]], list[StoredRecord]]] = {}
        self.version = 0

    # -- building -------------------------------------------------------------------------
    def _round(self, ms: int) -> int:
        return ms - ms % self._granularity

    def _make(self, event_ms: int, inserted_ms: int) -> StoredRecord:
        body = self._factory(self._rng, self._made)
        self._made += 1
        self._seq += 1
        rid = str(body[self._id_field])
        rec = StoredRecord(
            id=rid,
            event_ms=self._round(event_ms),
            seq=self._seq,
            inserted_ms=max(inserted_ms, event_ms),
            updated_ms=max(inserted_ms, event_ms),
            fields=body,
        )
        self._records[rid] = rec
        self._feed.append((rec.seq, rec))
        return rec

    def generate(self, count: int, *, start_ms: int, end_ms: int) -> None:
        """Make ``count`` records with event times spread over ``[start_ms, end_ms)``.

        Each lands a few hundred ms after its event time; persistence order follows that.
        """
        times = sorted(
            self._rng.randrange(start_ms, max(end_ms, start_ms + 1)) for _ in range(count)
        )
        pairs = [(t, min(t + self._rng.randrange(0, 1500), end_ms)) for t in times]
        pairs.sort(key=lambda p: p[1])
        for event_ms, inserted_ms in pairs:
            self._make(event_ms, inserted_ms)
        self._changed()

    def add(self, count: int, *, now_ms: int, age_ms: int = 0) -> list[StoredRecord]:
        """Insert ``count`` new records now, with event time ``age_ms`` in the past (late)."""
        made = [self._make(now_ms - age_ms - i, now_ms) for i in range(count)]
        self._changed()
        return made

    def add_at(self, event_times: list[int], *, now_ms: int) -> list[StoredRecord]:
        """Insert records now with the given event times (offset drift, late arrivals)."""
        made = [self._make(t, now_ms) for t in event_times]
        self._changed()
        return made

    def update(self, ids: list[str], *, now_ms: int) -> list[StoredRecord]:
        """Bump version and update time of ``ids``; feeds will deliver them again."""
        out = []
        for rid in ids:
            rec = self._records.get(rid)
            if rec is None:
                continue
            rec.version += 1
            rec.updated_ms = max(now_ms, rec.updated_ms + 1)
            self._seq += 1
            rec.seq = self._seq
            self._feed.append((rec.seq, rec))
            out.append(rec)
        self._changed()
        return out

    def tie(self, at: int, count: int) -> list[StoredRecord]:
        """Give ``count`` records around position ``at`` (ascending event time) one timestamp."""
        _, ordered = self.view("event")
        if not ordered or count < 2:
            return []
        lo = max(0, min(at - count // 2, len(ordered) - count))
        group = ordered[lo : lo + count]
        stamp = group[0].event_ms
        for rec in group:
            rec.event_ms = stamp
        self._changed()
        return group

    def _changed(self) -> None:
        self._views.clear()
        self.version += 1

    # -- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[StoredRecord]:
        return iter(self._records.values())

    def get(self, rid: str) -> StoredRecord | None:
        return self._records.get(rid)

    def ids(self) -> set[str]:
        return set(self._records)

    @property
    def last_seq(self) -> int:
        return self._seq

    def random_ids(self, count: int) -> list[str]:
        ids = sorted(self._records)
        return self._rng.sample(ids, min(count, len(ids)))

    def view(self, key: ViewKey) -> tuple[list[tuple[int, str]], list[StoredRecord]]:
        """All records sorted ascending by ``(time(key), id)``, with the parallel sort keys."""
        cached = self._views.get(key)
        if cached is None:
            ordered = sorted(self._records.values(), key=lambda r: (r.time(key), r.id))
            cached = ([(r.time(key), r.id) for r in ordered], ordered)
            self._views[key] = cached
        return cached

    def between(
        self, key: ViewKey, lo: int | None = None, hi: int | None = None
    ) -> list[StoredRecord]:
        """Records with ``lo <= time(key) <= hi`` (either bound optional), ascending."""
        keys, ordered = self.view(key)
        start = 0 if lo is None else bisect.bisect_left(keys, (lo, ""))
        end = len(keys) if hi is None else bisect.bisect_right(keys, (hi, "\U0010ffff"))
        return ordered[start:end]

    def feed_page(
        self, pos: int, limit: int, pred: Callable[[StoredRecord], bool], *, back: int = 0
    ) -> tuple[list[StoredRecord], bool]:
        """Up to ``limit`` matching records after ``seq`` ``pos``, in persistence order.

        ``back`` matching records at or before ``pos`` are put in front (the duplicates fault).
        Also says whether more matching records follow. Costs what the page costs, not the feed.
        """
        i = bisect.bisect_right(self._feed, pos, key=lambda e: e[0])
        before: list[StoredRecord] = []
        j = i - 1
        while back and j >= 0 and len(before) < back:
            s, rec = self._feed[j]
            if rec.seq == s and pred(rec):
                before.append(rec)
            j -= 1
        page: list[StoredRecord] = []
        for s, rec in self._feed[i:] if limit else ():
            if rec.seq == s and pred(rec):
                if len(page) == limit:
                    return before[::-1] + page, True
                page.append(rec)
        more = not limit and any(rec.seq == s and pred(rec) for s, rec in self._feed[i:])
        return before[::-1] + page, more

    def feed_after(self, seq: int) -> list[StoredRecord]:
        """Records in persistence order whose current ``seq`` is greater than ``seq``."""
        i = bisect.bisect_right(self._feed, seq, key=lambda e: e[0])
        return [rec for s, rec in self._feed[i:] if rec.seq == s]
