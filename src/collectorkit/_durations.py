"""Durations: friendly spellings read once into float seconds, and written back.

The one reader every layer uses (the HTTP policies, the blueprint, the configuration file, the
environment and the command line): ``30``, ``2.5``, ``"30"``, ``"30s"``, ``"5m"``, ``"5min"``,
``"1h30m"``, ``"500ms"``, ``"7d"``, ``"2w"`` and ``timedelta`` are accepted; units are
case-insensitive and may be separated by spaces.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import TypeAlias

from collectorkit._errors import ConfigError

__all__ = ["DURATION_HINT", "DURATION_PATTERN", "Seconds", "format_duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_UNIT = r"(?:ms|min|s|m|h|d|w)"
_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT})", re.IGNORECASE)
_WHOLE = re.compile(rf"\s*(?:\d+(?:\.\d+)?\s*{_UNIT}\s*)+", re.IGNORECASE)
_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")

Seconds: TypeAlias = float
"""A duration field in float seconds; its object reads any spelling :func:`parse_duration` takes."""

DURATION_HINT = "use a number of seconds or e.g. 500ms, 30s, 5m, 1h30m, 7d"
"""The accepted spellings, as every duration error states them."""

DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|min|s|m|h|d|w)?\s*)+$"
"""The accepted spellings as a JSON Schema ``pattern``."""


def parse_duration(value: object, *, field: str | None = None) -> float:
    """Seconds (>= 0) from a number, a duration string or a ``timedelta``.

    Raises :class:`~collectorkit.ConfigError` (a ``ValueError``) whose ``path`` is ``field`` and
    whose message names the value and the accepted spellings.
    """
    seconds = _seconds(value)
    if seconds is None or math.isnan(seconds):
        raise ConfigError(f"{value!r} is not a duration ({DURATION_HINT})", path=field)
    if seconds < 0:
        raise ConfigError(f"{value!r} is negative; a duration must be >= 0", path=field)
    return seconds


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            return float(value)
        if _WHOLE.fullmatch(value):
            return sum(float(n) * _UNITS[u.lower()] for n, u in _PART.findall(value))
    return None


def format_duration(seconds: float) -> str:
    """The shortest spelling of ``seconds`` that :func:`parse_duration` reads back exactly."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s" if seconds else "0s"
