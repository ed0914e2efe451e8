"""Clocks: the only place the core reads time or sleeps.

Policies take ``now`` as an argument; drivers get it from a :class:`Clock`. Tests use
:class:`FakeClock`, whose ``sleep`` advances time instantly, so no test waits for real.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time for durations, wall time for timestamps, and an awaitable sleep."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (durations, deadlines)."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the Unix epoch (expiries that are persisted, timestamps)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (no-op for zero or negative)."""
        ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)
        else:
            await asyncio.sleep(0)


class FakeClock:
    """A clock that only moves when told to, or when something sleeps on it.

    ``sleep`` advances both clocks by the requested amount and records it in ``sleeps``, then
    yields to the event loop once, so concurrent tasks interleave as they would in real time.
    """

    def __init__(self, *, start: float = 1_700_000_000.0, monotonic_start: float = 1000.0) -> None:
        self._wall = start
        self._mono = monotonic_start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        if seconds < 0:
            raise ValueError(f"FakeClock.advance: seconds must be >= 0, got {seconds!r}")
        self._mono += seconds
        self._wall += seconds

    def jump_wall(self, seconds: float) -> None:
        """Move only the wall clock (either direction), as NTP or a VM resume would."""
        self._wall += seconds

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleeps.append(seconds)
            self.advance(seconds)
        await asyncio.sleep(0)
