"""Instants as an API wants them in a request: the time formats a window's bounds are written in.

Durations are read by :func:`collectorkit._durations.parse_duration` and record timestamps by
:func:`collectorkit._instants.instant_or_none` (one implementation each); instants are
timezone-aware UTC ``datetime`` objects.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collectorkit._errors import ConfigError

__all__ = ["format_instant", "validate_time_format"]

FORMATS = ("iso8601", "epoch_s", "epoch_ms")


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
