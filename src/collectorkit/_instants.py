"""Instants: every timestamp we read (record fields, watermarks, ``--watermark``, the storage
service) becomes an aware UTC ``datetime`` through one parser.

Accepted: ``datetime`` (naive means ``assume_timezone``, UTC by default), ISO 8601 with any offset
or ``Z``, RFC 2822 / HTTP dates, and epoch numbers or numeric strings. An epoch number's unit is
``epoch_unit`` (``"s"``, ``"ms"``, ``"us"``, ``"ns"``) or, with ``"auto"``, guessed from its
magnitude: below 10^11 seconds (up to the year 5138), then milliseconds, microseconds,
nanoseconds — so ``1700000000`` and ``1700000000000`` are the same instant everywhere.

A watermark never moves backwards, so one set in the far future would pin a source until someone
deletes it: :func:`check_not_future` is the one rule (used by the watermark manager, the storage
service and ``collectorkit state set --watermark``) that refuses an instant more than a tolerance
(:data:`DEFAULT_MAX_FUTURE`) after now.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from collectorkit._durations import format_duration
from collectorkit._errors import ConfigError

__all__ = [
    "DEFAULT_MAX_FUTURE",
    "EPOCH_UNITS",
    "check_epoch_unit",
    "check_max_future",
    "check_not_future",
    "instant_or_none",
    "parse_instant",
]

DEFAULT_MAX_FUTURE = 3600.0
"""How many seconds past now a watermark may lie (clocks drift; records are not from tomorrow)."""

EPOCH_UNITS = ("auto", "s", "ms", "us", "ns")
"""The values ``epoch_unit`` accepts."""

_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
_HINT = "use ISO 8601 such as '2024-01-01T12:00:00Z', or epoch seconds or milliseconds"


def parse_instant(
    value: Any,
    *,
    epoch_unit: str = "auto",
    assume_timezone: timezone = UTC,
    field: str | None = None,
) -> datetime:
    """``value`` as an aware UTC datetime.

    Raises :class:`~collectorkit.ConfigError` (a ``ValueError``) whose ``path`` is ``field`` and
    whose message names the value.
    """
    parsed = instant_or_none(value, epoch_unit=epoch_unit, assume_timezone=assume_timezone)
    if parsed is None:
        raise ConfigError(f"not a timestamp: {value!r} ({_HINT})", path=field)
    return parsed


def instant_or_none(
    value: Any, *, epoch_unit: str = "auto", assume_timezone: timezone = UTC
) -> datetime | None:
    """Like :func:`parse_instant`, but ``None`` when ``value`` is missing or unreadable (a record
    field that may hold anything)."""
    check_epoch_unit(epoch_unit)
    if isinstance(value, datetime):
        return _utc(value, assume_timezone)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value), epoch_unit)
    if isinstance(value, str):
        return _from_text(value.strip(), epoch_unit, assume_timezone)
    return None


def check_not_future(
    instant: datetime,
    *,
    now: float,
    tolerance: float = DEFAULT_MAX_FUTURE,
    field: str | None = None,
) -> datetime:
    """``instant`` unless it lies more than ``tolerance`` seconds after ``now`` (epoch seconds).

    Raises :class:`~collectorkit.ConfigError` naming ``field``, the instant and the tolerance.
    """
    check_max_future(tolerance)
    ahead = instant.timestamp() - now
    if ahead > tolerance:
        shown = instant.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
        raise ConfigError(
            f"{shown} is {_roughly(ahead)} in the future (at most"
            f" {format_duration(tolerance)} ahead of the current time is accepted: a watermark"
            " never moves backwards, so a future one would stop collection until deleted)",
            path=field,
        )
    return instant


def check_max_future(tolerance: float, *, field: str = "max_future") -> float:
    """``tolerance`` when it is a finite number of seconds >= 0; a ConfigError otherwise."""
    if isinstance(tolerance, bool) or not (
        isinstance(tolerance, int | float) and tolerance >= 0 and math.isfinite(tolerance)
    ):
        raise ConfigError(f"must be a number of seconds >= 0, got {tolerance!r}", path=field)
    return float(tolerance)


def _roughly(seconds: float) -> str:
    for size, unit in ((86_400, "days"), (3600, "hours"), (60, "minutes")):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} seconds"


def check_epoch_unit(unit: str, *, field: str = "epoch_unit") -> str:
    """``unit`` when it is one of :data:`EPOCH_UNITS`; a :class:`~collectorkit.ConfigError`
    naming ``field`` and the value otherwise."""
    if unit not in EPOCH_UNITS:
        raise ConfigError(f"expected one of {', '.join(EPOCH_UNITS)}; got {unit!r}", path=field)
    return unit


def _utc(value: datetime, assume_timezone: timezone) -> datetime | None:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=assume_timezone)
    try:
        return aware.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the calendar's first day
        return None


def _from_epoch(number: float, unit: str) -> datetime | None:
    if math.isnan(number) or math.isinf(number):
        return None
    if unit == "auto":
        magnitude = abs(number)
        unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us"
        unit = "ns" if magnitude >= 1e17 else unit
    try:
        return datetime.fromtimestamp(number / _PER_SECOND[unit], tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _from_text(text: str, unit: str, assume_timezone: timezone) -> datetime | None:
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return _from_epoch(number, unit)
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("z") else text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return _utc(parsed, assume_timezone)
