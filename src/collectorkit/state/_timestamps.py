"""UTC timestamps for watermarks: parse friendly input once, format one way.

Naive datetimes (``datetime.utcnow()``, as the storage-client guide writes them) are taken to be
UTC. Timestamps handed back are aware UTC datetimes of type :class:`UTCDateTime`, which also
subtracts from and to naive UTC datetimes, so ``datetime.utcnow() - watermark[...]`` works.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collectorkit._instants import parse_instant

__all__ = ["UTCDateTime", "age_seconds", "format_timestamp", "parse_timestamp"]


def _aware(other: Any) -> Any:
    if isinstance(other, datetime) and other.tzinfo is None:
        return other.replace(tzinfo=UTC)
    return other


class UTCDateTime(datetime):
    """An aware UTC datetime that treats a naive operand of ``-``, ``<``, ``>`` … as UTC.

    (Equality keeps ``datetime`` semantics: an aware and a naive datetime are never equal.)
    """

    def __lt__(self, other: Any) -> bool:
        return super().__lt__(_aware(other))

    def __le__(self, other: Any) -> bool:
        return super().__le__(_aware(other))

    def __gt__(self, other: Any) -> bool:
        return super().__gt__(_aware(other))

    def __ge__(self, other: Any) -> bool:
        return super().__ge__(_aware(other))

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, datetime) and other.tzinfo is None:
            other = other.replace(tzinfo=UTC)
        return super().__sub__(other)

    def __rsub__(self, other: Any) -> Any:
        if isinstance(other, datetime) and other.tzinfo is None:
            mine = datetime(*self.timetuple()[:6], self.microsecond, tzinfo=UTC)
            return other.replace(tzinfo=UTC) - mine
        return NotImplemented


def _utc(value: datetime) -> UTCDateTime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return UTCDateTime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=UTC,
    )


def parse_timestamp(value: Any, *, field: str = "timestamp") -> UTCDateTime:
    """A datetime, ISO 8601 text (``Z`` allowed) or epoch seconds or milliseconds, as aware UTC
    (read by :func:`collectorkit._instants.parse_instant`, as every timestamp is).

    Raises :class:`~collectorkit.ConfigError` naming ``field`` and the value otherwise.
    """
    return _utc(parse_instant(value, field=field))


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, microseconds only when present."""
    utc = _utc(value)
    spec = "seconds" if utc.microsecond == 0 else "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def age_seconds(value: datetime, now: float) -> float:
    """Seconds from ``value`` to the wall-clock time ``now`` (epoch seconds)."""
    return now - _utc(value).timestamp()
