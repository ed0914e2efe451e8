"""The timeout settings of a client (durations read by :mod:`collectorkit._durations`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias

from collectorkit._durations import parse_duration
from collectorkit._errors import ConfigError

__all__ = ["DurationInput", "TimeoutSettings", "parse_duration"]

DurationInput: TypeAlias = "float | int | str | timedelta"


def _optional(value: DurationInput | None, field: str) -> float | None:
    return None if value is None else parse_duration(value, field=field)


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class TimeoutSettings:
    """How long one connect, one read, and one whole collection may take, in seconds.

    ``execution`` is the budget of a whole collection (``None``: unbounded); the collector stops
    cleanly when the rest of it would not cover another request. Each value accepts ``30``,
    ``"30s"`` or a ``timedelta``.
    """

    connect: float
    read: float
    execution: float | None

    def __init__(
        self,
        *,
        connect: DurationInput = 10.0,
        read: DurationInput = 30.0,
        execution: DurationInput | None = None,
    ) -> None:
        values = {
            "connect": parse_duration(connect, field="TimeoutSettings.connect"),
            "read": parse_duration(read, field="TimeoutSettings.read"),
            "execution": _optional(execution, "TimeoutSettings.execution"),
        }
        for name in ("connect", "read"):
            if values[name] == 0:
                raise ConfigError(
                    f"must be > 0, got {values[name]!r}", path=f"TimeoutSettings.{name}"
                )
        for name, number in values.items():
            object.__setattr__(self, name, number)

    @classmethod
    def coerce(cls, value: TimeoutSettings | DurationInput | None) -> TimeoutSettings:
        """``TimeoutSettings`` from itself, ``None`` (defaults) or one duration (read)."""
        if isinstance(value, TimeoutSettings):
            return value
        if value is None:
            return cls()
        return cls(read=value)

    def capped(self, remaining: float | None) -> TimeoutSettings:
        """These settings with connect and read no longer than ``remaining`` seconds."""
        if remaining is None or (remaining >= self.read and remaining >= self.connect):
            return self
        floor = max(remaining, 0.001)
        return TimeoutSettings(
            connect=min(self.connect, floor), read=min(self.read, floor), execution=self.execution
        )
