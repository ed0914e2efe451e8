"""What the collector hands out: one :class:`Page` at a time, or a :class:`CollectionResult`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from collectorkit._records import Record
from collectorkit.collect._metrics import ExecutionMetrics
from collectorkit.collect._selfcheck import Finding
from collectorkit.collect._spec import StopReason
from collectorkit.collect._state import CollectorState

__all__ = ["CollectionResult", "Page"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """The records of one response and the state to save once they are delivered.

    Save ``state`` only after every record of ``events`` reached its destination: it already
    points past them. ``state_after(n)`` is the state for delivering only the first ``n``
    records (a batch that ends mid-page). ``stop_reason`` is set on the last page of a run;
    a run may also end without a last page (budget, caught up) — the iterator then tells why.
    ``shard`` is the ``state_key`` of the shard this page came from, when fanned out.
    """

    number: int
    events: list[Record]
    state: CollectorState
    stop_reason: StopReason | None = None
    shard: str | None = None
    _partial: Callable[[int], CollectorState] | None = field(default=None, repr=False)

    def state_after(self, count: int) -> CollectorState:
        """The state to save after delivering the first ``count`` records of this page."""
        if count >= len(self.events) or self._partial is None:
            return self.state
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        return self._partial(count)


@dataclass(slots=True, kw_only=True)
class CollectionResult:
    """What a collection returned. ``complete`` is true when the API had nothing more to give
    (not stopped by ``limit``, the time budget or ``max_pages``). ``findings`` are the
    self-checks' findings: where the configuration does not match the responses (a
    ``data_path`` that matched nothing, a next-page path missing on a full page …); a run with
    findings is suspect even when it ended cleanly (see ``collectorkit.collect.Finding``)."""

    events: list[Record] = field(default_factory=list)
    state: CollectorState = field(default_factory=CollectorState)
    metrics: ExecutionMetrics = field(default_factory=ExecutionMetrics)
    stop_reason: StopReason | None = None
    pages: int = 0
    elapsed: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.stop_reason is not None and self.stop_reason.exhausted
