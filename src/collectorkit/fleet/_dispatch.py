"""Sans-I/O: which sources the dispatcher defers on this tick.

A source is due when it never ran, or when its last run started one schedule slot ago (the
failure back-off after a failed run) and no worker holds it. A run held longer than its time
budget plus the stall threshold counts as lost: the source is due again, and the engine's
per-source lock and the fencing epoch keep the two runs from both committing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from collectorkit.daemon._schedule import Schedule
from collectorkit.state import FenceRow

__all__ = ["SourceTiming", "due_sources"]

_NO_BUDGET = 3600.0
"""How long a run without its own time budget may hold a source before it counts as lost."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceTiming:
    """One source's schedule and how long one run may take (``None``: no budget)."""

    name: str
    schedule: Schedule
    budget: float | None = None

    def max_hold(self, stalled_after: float) -> float:
        return (self.budget or _NO_BUDGET) + stalled_after


def due_sources(
    sources: Sequence[SourceTiming],
    fences: Mapping[str, FenceRow],
    now: float,
    *,
    stalled_after: float,
) -> list[str]:
    """The names of ``sources`` to defer at ``now`` (wall-clock seconds)."""
    return [s.name for s in sources if _is_due(s, fences.get(s.name), now, stalled_after)]


def _is_due(source: SourceTiming, fence: FenceRow | None, now: float, stalled_after: float) -> bool:
    if fence is None or fence.started_at is None:
        return True
    if fence.holder is not None:  # running (or lost, once held past its budget)
        return now - fence.started_at >= source.max_hold(stalled_after)
    if fence.outcome == "failed":
        wait = source.schedule.failure_delay(1, fence.started_at)
    else:
        wait = source.schedule.regular_delay(fence.started_at)
    return now >= fence.started_at + wait
