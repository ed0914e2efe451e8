"""What ``/status`` and ``/metrics`` of a worker show about the whole fleet.

The dispatcher reads every source's fence row on each tick (whichever worker runs it), and each
worker refreshes its own copy as often: which worker holds which source, since when, the last
run's outcome, the epoch, and the runs recovered from stalled workers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from collectorkit.daemon._metrics import RuntimeMetrics
from collectorkit.state import FenceRow

__all__ = ["FleetView"]


class FleetView:
    """The latest fence rows, rendered for the status snapshot."""

    def __init__(self, *, worker: str) -> None:
        self.worker = worker
        self.rows: list[FenceRow] = []
        self.read_at: float | None = None

    def update(self, rows: Iterable[FenceRow], *, now: float) -> None:
        self.rows, self.read_at = list(rows), now

    def attach(self, metrics: RuntimeMetrics) -> None:
        metrics.fleet = self.snapshot

    def snapshot(self, now: float) -> dict[str, Any]:
        sources = [
            {
                "name": r.key,
                "holder": r.holder,
                "epoch": r.epoch,
                "last_run_started": r.started_at,
                "last_run_finished": r.finished_at,
                "last_outcome": r.outcome,
                "last_run_age": None if r.started_at is None else max(0.0, now - r.started_at),
                "stalls_recovered": r.stalls,
            }
            for r in self.rows
        ]
        return {
            "worker": self.worker,
            "read_at": self.read_at,
            "sources": sources,
            "held": {s["name"]: s["holder"] for s in sources if s["holder"]},
            "stalls_recovered": sum(r.stalls for r in self.rows),
        }
