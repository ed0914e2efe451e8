"""Durations given in friendly forms, and the timeout settings of a client."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias

from collectorkit._errors import ConfigError

__all__ = ["DurationInput", "TimeoutSettings", "parse_duration"]

DurationInput: TypeAlias = "float | int | str | timedelta"

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d|w)", re.IGNORECASE)


def parse_duration(value: DurationInput, *, field: str = "duration") -> float:
    """Seconds from ``30``, ``2.5``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"500ms"``, ``"7d"`` or a
    :class:`~datetime.timedelta`. Negative, NaN and unparsable values raise :class:`ConfigError`
    naming ``field`` and the value."""
    if isinstance(value, bool):
        raise ConfigError(f"expected a duration, got {value!r}", path=field)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value, field)
    else:
        raise ConfigError(
            f"expected a duration (seconds, '30s', timedelta), got {value!r}", path=field
        )
    if math.isnan(seconds) or seconds < 0:
        raise ConfigError(f"must be a non-negative duration, got {value!r}", path=field)
    return seconds


def _parse_text(text: str, field: str) -> float:
    stripped = text.strip()
    try:
        return float(stripped)
    except ValueError:
        pass
    compact = stripped.replace(" ", "")
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise ConfigError(
            f"cannot read {text!r} as a duration (use e.g. 30, '30s', '5m', '1h30m', '7d')",
            path=field,
        )
    return sum(float(number) * _UNITS[unit.lower()] for number, unit in parts)


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
