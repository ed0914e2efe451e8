"""What the simulator served and what exists: the ground truth for "nothing lost, nothing twice".

A record counts as served only when a complete, well-formed 200 response carrying it was handed
to the server: a malformed page, a reset connection or an error status serves nothing.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from collectorkit.simulator._dataset import StoredRecord

__all__ = ["Ledger", "LedgerComparison", "Stats"]


@dataclass(frozen=True, slots=True)
class LedgerComparison:
    """``served`` vs a collector's ``stored`` ids for one profile.

    ``lost``: served but not stored. ``unexpected``: stored but never existed.
    ``never_served``: exists but was never served (records the collector's window never asked
    for). ``ok`` is true when nothing served was lost and nothing stored is unknown.
    """

    lost: frozenset[str]
    unexpected: frozenset[str]
    never_served: frozenset[str]

    @property
    def ok(self) -> bool:
        return not self.lost and not self.unexpected


class Ledger:
    """Per profile: how many times each record id (and each id+version) was served.

    Thread-safe: the server thread writes, tests read.
    """

    def __init__(self, existing: Callable[[str], set[str]]) -> None:
        self._lock = threading.Lock()
        self._existing = existing
        self._served: dict[str, Counter[str]] = defaultdict(Counter)
        self._versions: dict[str, Counter[tuple[str, int]]] = defaultdict(Counter)
        self._pages: Counter[str] = Counter()
        self._endpoints: dict[str, dict[str, Counter[str]]] = defaultdict(dict)

    def record(self, profile: str, records: Iterable[StoredRecord], endpoint: str = "") -> None:
        """Count one delivered page of ``profile`` (from its data endpoint ``endpoint``)."""
        with self._lock:
            self._pages[profile] += 1
            per_endpoint = self._endpoints[profile].setdefault(endpoint, Counter())
            for rec in records:
                self._served[profile][rec.id] += 1
                self._versions[profile][(rec.id, rec.version)] += 1
                per_endpoint[rec.id] += 1

    def served_by_endpoint(self, profile: str) -> dict[str, dict[str, int]]:
        """endpoint name → (id → times served), for profiles with several data endpoints."""
        with self._lock:
            return {name: dict(c) for name, c in self._endpoints[profile].items()}

    def served(self, profile: str) -> dict[str, int]:
        """id → number of times served."""
        with self._lock:
            return dict(self._served[profile])

    def served_ids(self, profile: str) -> set[str]:
        with self._lock:
            return set(self._served[profile])

    def served_versions(self, profile: str) -> dict[tuple[str, int], int]:
        """(id, version) → number of times served; updates make new versions."""
        with self._lock:
            return dict(self._versions[profile])

    def duplicates(self, profile: str) -> dict[str, int]:
        """Ids served more than once (by faults, overlaps or a client re-asking)."""
        with self._lock:
            return {k: v for k, v in self._served[profile].items() if v > 1}

    def existing(self, profile: str) -> set[str]:
        """Ids that exist right now in the profile's dataset."""
        return self._existing(profile)

    def pages(self, profile: str) -> int:
        with self._lock:
            return self._pages[profile]

    def compare(self, profile: str, stored: Iterable[str]) -> LedgerComparison:
        """Compare a collector's stored ids with what was served and what exists."""
        stored_set = set(stored)
        served = self.served_ids(profile)
        existing = self.existing(profile)
        return LedgerComparison(
            lost=frozenset(served - stored_set),
            unexpected=frozenset(stored_set - existing),
            never_served=frozenset(existing - served),
        )

    def clear(self) -> None:
        with self._lock:
            self._served.clear()
            self._versions.clear()
            self._pages.clear()
            self._endpoints.clear()

    def snapshot(self, profiles: Iterable[str]) -> dict[str, Any]:
        """The JSON of ``GET /_sim/ledger``."""
        out: dict[str, Any] = {}
        for name in profiles:
            served = self.served(name)
            existing = self.existing(name)
            out[name] = {
                "existing": sorted(existing),
                "served": dict(sorted(served.items())),
                "existing_count": len(existing),
                "served_unique": len(served),
                "served_total": sum(served.values()),
                "pages": self.pages(name),
                "served_by_endpoint": {
                    ep: sum(ids.values()) for ep, ids in self.served_by_endpoint(name).items()
                },
                "never_served": sorted(existing - set(served)),
            }
        return out


class Stats:
    """Request and fault counters, per profile and endpoint (``GET /_sim/stats``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.faults_by_endpoint: Counter[str] = Counter()
        self.records_served: Counter[str] = Counter()

    def request(self, endpoint: str) -> None:
        with self._lock:
            self.requests[endpoint] += 1
            self.requests["total"] += 1

    def response(self, endpoint: str, status: int | str, served: int) -> None:
        """Count an answer; ``status`` is the HTTP status, or ``"reset"`` for none at all."""
        with self._lock:
            self.statuses[str(status)] += 1
            self.records_served[endpoint] += served

    def fault(self, endpoint: str, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1
            self.faults_by_endpoint[f"{endpoint}:{kind}"] += 1

    def clear(self) -> None:
        with self._lock:
            for c in (
                self.requests,
                self.statuses,
                self.faults,
                self.faults_by_endpoint,
                self.records_served,
            ):
                c.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "statuses": dict(self.statuses),
                "faults": dict(self.faults),
                "faults_by_endpoint": dict(self.faults_by_endpoint),
                "records_served": dict(self.records_served),
            }
