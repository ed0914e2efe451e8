"""Deciding, per request, which faults fire. Pure bookkeeping: no I/O, no clock.

Every installed fault keeps its own counter of the requests it applies to and its own RNG
(seeded from the simulator seed and the fault's install number), so a sequential client sees
exactly the same faults on every run with the same seed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from collectorkit.simulator._faultspec import DATA_FAULTS, FaultSpec

__all__ = ["ActiveFault", "FaultPlan", "RequestInfo"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the fault plan needs to know about a request."""

    profile: str
    endpoint: str
    is_data: bool
    has_cursor: bool


@dataclass(slots=True)
class ActiveFault:
    """An installed fault with its counters."""

    spec: FaultSpec
    number: int
    rng: random.Random
    seen: int = 0
    injected: int = 0
    burst_left: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def applies(self, req: RequestInfo) -> bool:
        spec = self.spec
        target = spec.target
        if target == "*":
            matched = req.is_data
        elif "." in target:
            prof, _, ep = target.partition(".")
            matched = prof == req.profile and ep in ("*", req.endpoint)
        else:
            matched = target == req.profile and req.is_data
        if not matched:
            return False
        if spec.kind == "boundary_ties" or (spec.kind in DATA_FAULTS and not req.is_data):
            return False  # boundary_ties shapes the dataset once, when installed
        return not (spec.kind == "expired_cursor" and not req.has_cursor)

    def fires(self) -> bool:
        """Count one applicable request and say whether the fault fires on it."""
        spec = self.spec
        self.seen += 1
        # draw every time so the random pattern does not depend on the other conditions
        draw = self.rng.random() if spec.probability is not None else 0.0
        if spec.max_times is not None and self.injected >= spec.max_times:
            return False
        if self.burst_left > 0:
            self.burst_left -= 1
            self.injected += 1
            return True
        hit = True
        if spec.every is not None:
            hit = hit and self.seen % spec.every == 0
        if spec.requests is not None:
            hit = hit and self.seen in spec.requests
        if spec.probability is not None:
            hit = hit and draw < spec.probability
        if hit:
            self.injected += 1
            self.burst_left = spec.burst - 1
        return hit

    def describe(self) -> dict[str, Any]:
        return {**self.spec.to_dict(), "seen": self.seen, "injected": self.injected}


class FaultPlan:
    """The faults installed now; changed at run time through the admin API. Thread-safe."""

    def __init__(self, seed: int, faults: Iterable[FaultSpec] = ()) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._faults: list[ActiveFault] = []
        self._installed = 0
        self.add(*faults)

    def add(self, *specs: FaultSpec) -> list[ActiveFault]:
        with self._lock:
            made = []
            for spec in specs:
                self._installed += 1
                rng = random.Random(f"{self._seed}:fault:{self._installed}")
                made.append(ActiveFault(spec=spec, number=self._installed, rng=rng))
            self._faults.extend(made)
            return made

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def replace(self, *specs: FaultSpec) -> list[ActiveFault]:
        self.clear()
        return self.add(*specs)

    def active(self) -> list[ActiveFault]:
        with self._lock:
            return list(self._faults)

    def decide(self, req: RequestInfo) -> list[FaultSpec]:
        """The faults that fire on this request, in install order."""
        with self._lock:
            return [f.spec for f in self._faults if f.applies(req) and f.fires()]

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]
