"""When each source runs next: sans-I/O schedule decisions.

:class:`Schedule` is the frozen description (an interval or a cron expression, jitter, failure
backoff). :class:`SourceTimer` is the small state machine the scheduler drives: it is told what
happened (``start``, ``succeeded``, ``failed``) with the current time and answers with the monotonic
time the source is due next. It never reads a clock, sleeps or draws random numbers itself — the
driver passes ``now`` and a :class:`random.Random` — so every decision is tested without a loop.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal

from collectorkit._errors import ConfigError

__all__ = ["Schedule", "SourceTimer", "TimerState"]

TimerState = Literal["scheduled", "running", "backing_off", "stopped"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """How often a source runs.

    Exactly one of ``interval`` (seconds between the *starts* of two runs) and ``cron`` (a
    five-field cron expression, evaluated in UTC) is set. ``jitter`` (seconds) spreads each due time
    by a uniform random delay in ``[0, jitter]`` so that many sources on one interval do not hit
    their APIs in lockstep; ``None`` means 10 % of the interval, at most 30 s.

    After ``n`` consecutive failures the next run waits
    ``max(regular delay, min(backoff_max, backoff_initial * backoff_multiplier ** (n - 1)))`` —
    a failing source backs off while the others carry on; the first success resets it.
    ``backoff_initial`` ``None`` means the interval (60 s for cron schedules).
    """

    interval: float | None = None
    cron: str | None = None
    jitter: float | None = None
    run_at_start: bool = True
    backoff_initial: float | None = None
    backoff_multiplier: float = 2.0
    backoff_max: float = 900.0

    def __post_init__(self) -> None:
        if (self.interval is None) == (self.cron is None):
            raise ConfigError("set exactly one of interval and cron", path="schedule")
        if self.interval is not None and not (self.interval > 0 and math.isfinite(self.interval)):
            raise ConfigError(
                f"interval must be a positive number of seconds, got {self.interval!r}",
                path="schedule.interval",
            )
        if self.cron is not None:
            _check_cron(self.cron)
        for name in ("jitter", "backoff_initial"):
            value = getattr(self, name)
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"must be >= 0, got {value!r}", path=f"schedule.{name}")
        if self.backoff_multiplier < 1:
            raise ConfigError(
                f"must be >= 1, got {self.backoff_multiplier!r}",
                path="schedule.backoff_multiplier",
            )
        if self.backoff_max <= 0:
            raise ConfigError(f"must be > 0, got {self.backoff_max!r}", path="schedule.backoff_max")

    @property
    def effective_jitter(self) -> float:
        if self.jitter is not None:
            return self.jitter
        if self.interval is None:
            return 0.0
        return min(30.0, self.interval * 0.1)

    def regular_delay(self, now_wall: float) -> float:
        """Seconds from ``now_wall`` to the next regular slot, without jitter."""
        if self.interval is not None:
            return self.interval
        return _cron_next(self.cron or "", now_wall) - now_wall

    def failure_delay(self, failures: int, now_wall: float) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure."""
        initial = self.backoff_initial
        if initial is None:
            initial = self.interval if self.interval is not None else 60.0
        exponent = min(failures - 1, 64)
        backoff = min(self.backoff_max, initial * self.backoff_multiplier**exponent)
        return max(self.regular_delay(now_wall), backoff)

    def describe(self) -> str:
        if self.interval is not None:
            return f"every {self.interval:g}s"
        return f"cron {self.cron!r}"


def _check_cron(expression: str) -> None:
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise ConfigError(
            f"{expression!r} is not a valid cron expression (five fields: min hour dom mon dow)",
            path="schedule.cron",
        )


def _cron_next(expression: str, now_wall: float) -> float:
    from datetime import UTC, datetime

    from croniter import croniter

    start = datetime.fromtimestamp(now_wall, tz=UTC)
    nxt: float = croniter(expression, start).get_next(float)
    return nxt


@dataclass(slots=True)
class SourceTimer:
    """The schedule state of one source.

    Times given to and returned by the methods are monotonic seconds, except ``now_wall`` which
    cron schedules need. ``due`` is when the source should start next (``None`` once stopped).
    A run that overruns its interval is not made up for: the next run starts at once and the
    missed slots are counted in ``skipped``.
    """

    schedule: Schedule
    rng: random.Random = field(default_factory=random.Random)
    state: TimerState = "scheduled"
    due: float | None = None
    consecutive_failures: int = 0
    runs: int = 0
    skipped: int = 0
    _slot: float | None = None

    def first_due(self, now: float, now_wall: float) -> float:
        """The first due time: now when ``run_at_start`` (a restart does not wait the jitter;
        it spreads the runs after this one), else the first slot plus jitter."""
        if self.schedule.run_at_start:
            self._slot = self.due = now
            return now
        self._slot = now + self.schedule.regular_delay(now_wall)
        self.due = self._slot + self._jitter()
        return self.due

    def is_due(self, now: float) -> bool:
        return (
            self.state in ("scheduled", "backing_off") and self.due is not None and now >= self.due
        )

    def delay(self, now: float) -> float | None:
        """Seconds until due (0 when overdue); ``None`` when stopped or running."""
        if self.state not in ("scheduled", "backing_off") or self.due is None:
            return None
        return max(0.0, self.due - now)

    def start(self, now: float) -> None:
        """A run begins. Raises :class:`RuntimeError` if one is already running."""
        if self.state == "running":
            raise RuntimeError("a run of this source is already in progress")
        if self.state == "stopped":
            raise RuntimeError("the source is stopped")
        self.state = "running"
        self.runs += 1

    def succeeded(self, now: float, now_wall: float) -> float:
        """The run finished well: the next regular slot (overdue slots are skipped)."""
        self.consecutive_failures = 0
        step = self.schedule.regular_delay(now_wall)
        slot = (self._slot if self._slot is not None else now) + step
        if self.schedule.interval is None:
            slot = now + step
        elif slot < now:
            self.skipped += math.floor((now - slot) / step)
            slot = now
        return self._set(slot, "scheduled")

    def failed(self, now: float, now_wall: float, *, retry_after: float | None = None) -> float:
        """The run failed: back off (at least ``retry_after`` seconds, e.g. an open breaker)."""
        self.consecutive_failures += 1
        wait = self.schedule.failure_delay(self.consecutive_failures, now_wall)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return self._set(now + wait, "backing_off")

    def stop(self) -> None:
        self.state = "stopped"
        self.due = None

    def _set(self, slot: float, state: TimerState) -> float:
        self._slot = slot
        self.state = state
        self.due = slot + self._jitter()
        return self.due

    def _jitter(self) -> float:
        spread = self.schedule.effective_jitter
        return self.rng.uniform(0.0, spread) if spread > 0 else 0.0
