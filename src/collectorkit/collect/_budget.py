"""The two things a run may run out of: time (the execution budget) and records (``limit``)."""

from __future__ import annotations

from collectorkit._clock import Clock

__all__ = ["Budget", "Quota"]


class Budget:
    """The execution time budget of one collection, on the clock's monotonic scale.

    A request is started only when the time left exceeds the margin: ``min_margin`` plus the
    longest request seen so far (retry sleeps and token fetches included, since they happen
    inside a request). Requests get ``deadline`` so that a retry wait never runs past it.
    """

    __slots__ = ("clock", "deadline", "min_margin", "slowest")

    def __init__(self, clock: Clock, execution: float | None, *, min_margin: float) -> None:
        self.clock = clock
        self.min_margin = min_margin
        self.deadline = None if execution is None else clock.monotonic() + execution
        self.slowest = 0.0

    def allows_request(self) -> bool:
        if self.deadline is None:
            return True
        return self.deadline - self.clock.monotonic() > self.min_margin + self.slowest

    @property
    def request_deadline(self) -> float | None:
        """The latest moment (monotonic) a request may still be running."""
        return None if self.deadline is None else self.deadline - self.min_margin

    def observe(self, seconds: float) -> None:
        self.slowest = max(self.slowest, seconds)


class Quota:
    """How many more records a run may return (``None``: no limit). Shared by shards."""

    __slots__ = ("remaining",)

    def __init__(self, limit: int | None) -> None:
        self.remaining = limit

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def take(self, count: int) -> None:
        if self.remaining is not None:
            self.remaining -= count
