"""Durations and instants: friendly inputs normalised once, timestamps compared as instants.

Durations are parsed by :func:`collectorkit.http.parse_duration` (one implementation).
Instants are timezone-aware UTC ``datetime`` objects; record timestamps in ISO 8601 (any
offset, ``Z``, or naive meaning UTC), epoch seconds or epoch milliseconds all parse to one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collectorkit._errors import ConfigError
from collectorkit.http import parse_duration

__all__ = [
    "format_instant",
    "parse_duration",
    "parse_instant",
    "to_epoch",
    "validate_time_format",
]

_EPOCH_MS_THRESHOLD = 100_000_000_000  # numbers above this are milliseconds (year 5138 in s)
FORMATS = ("iso8601", "epoch_s", "epoch_ms")


def to_epoch(instant: datetime) -> float:
    return instant.timestamp()


def parse_instant(value: Any, *, numeric_unit: str = "auto") -> datetime | None:
    """A record's timestamp as an aware UTC datetime, or ``None`` when it is missing or unreadable.

    Numbers are epoch seconds or milliseconds (``numeric_unit`` ``"s"``/``"ms"``, or ``"auto"``:
    values above 10^11 are milliseconds). Strings are ISO 8601 with any offset; naive means UTC;
    numeric strings are treated as numbers.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return _from_number(float(value), numeric_unit)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _from_number(float(text), numeric_unit)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _from_number(number: float, unit: str) -> datetime | None:
    if unit == "ms" or (unit == "auto" and abs(number) >= _EPOCH_MS_THRESHOLD):
        number /= 1000.0
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def validate_time_format(fmt: str, *, field: str) -> str:
    if fmt in FORMATS or "%" in fmt:
        return fmt
    raise ConfigError(
        f"unknown time format {fmt!r}; use one of {', '.join(FORMATS)} or a strftime pattern",
        path=field,
    )


def format_instant(instant: datetime, fmt: str) -> str | int:
    """``instant`` as the API wants it: ISO 8601 (``Z``), epoch s / ms (ints), or strftime."""
    instant = instant.astimezone(UTC)
    if fmt == "iso8601":
        return instant.isoformat().replace("+00:00", "Z")
    if fmt == "epoch_s":
        return int(instant.timestamp())
    if fmt == "epoch_ms":
        return round(instant.timestamp() * 1000)
    return instant.strftime(fmt)
