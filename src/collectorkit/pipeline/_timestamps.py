"""Timestamp normalisation: whatever the API sends becomes UTC ISO 8601 (``...Z``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from collectorkit._errors import ConfigError, ProcessingError
from collectorkit._records import Record
from collectorkit.pipeline._base import BaseProcessor
from collectorkit.pipeline._paths import MISSING, get_path, set_path

__all__ = ["TimestampProcessor", "to_utc_iso"]

_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def _from_epoch(value: float, unit: str) -> datetime:
    if unit == "auto":
        magnitude = abs(value)
        unit = "ns" if magnitude >= 1e17 else "us" if magnitude >= 1e14 else "ms"
        if magnitude < 1e11:
            unit = "s"
    return datetime.fromtimestamp(value / _UNITS[unit], UTC)


def _parse(value: Any, unit: str, assume: timezone) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    elif isinstance(value, int | float) or (
        isinstance(value, str) and _NUMERIC.match(value.strip())
    ):
        return _from_epoch(float(value), unit)
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = parsedate_to_datetime(text)  # RFC 2822 / HTTP dates; raises ValueError
    else:
        raise ValueError(f"unsupported type {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=assume)
    return parsed


def to_utc_iso(value: Any, *, epoch_unit: str = "auto", assume_timezone: timezone = UTC) -> str:
    """``value`` (ISO 8601, RFC 2822, epoch s/ms/us/ns, datetime) as ``YYYY-MM-DDTHH:MM:SS[.f]Z``.

    ``epoch_unit="auto"`` guesses the unit from the magnitude (seconds up to the year 5138).
    Naive times are taken to be in ``assume_timezone``. Raises ``ValueError`` when unparseable.
    """
    try:
        parsed = _parse(value, epoch_unit, assume_timezone)
    except (ValueError, OverflowError, OSError, TypeError) as exc:
        raise ValueError(f"not a timestamp: {value!r} ({exc})") from None
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


class TimestampProcessor(BaseProcessor):
    """Normalises timestamp ``fields`` (dotted paths) to UTC ISO 8601 with a ``Z`` suffix.

    A missing field is left alone unless ``required=True``; an unparseable value sends the
    record to dead-letter naming the field and the value. ``assume_timezone`` is a UTC offset in
    hours, or a ``datetime.timezone``, for naive timestamps.
    """

    def __init__(
        self,
        fields: Sequence[str] = ("timestamp",),
        *,
        epoch_unit: str = "auto",
        assume_timezone: timezone | float = UTC,
        required: bool = False,
        name: str = "timestamps",
    ) -> None:
        if isinstance(fields, str):
            fields = [fields]
        if epoch_unit not in (*_UNITS, "auto"):
            raise ConfigError(
                f"expected one of auto, s, ms, us, ns; got {epoch_unit!r}", path="epoch_unit"
            )
        self.name = name
        self.fields = tuple(fields)
        self.epoch_unit = epoch_unit
        if not isinstance(assume_timezone, timezone):
            assume_timezone = timezone(timedelta(hours=float(assume_timezone)))
        self.assume_timezone = assume_timezone
        self.required = required

    def __call__(self, record: Record) -> Record | None:
        out = record
        for path in self.fields:
            value = get_path(record, path)
            if value is MISSING or value is None:
                if self.required:
                    raise ProcessingError(f"timestamp field {path!r} is missing")
                continue
            try:
                text = to_utc_iso(
                    value, epoch_unit=self.epoch_unit, assume_timezone=self.assume_timezone
                )
            except ValueError as exc:
                raise ProcessingError(f"field {path!r}: {exc}") from None
            if text != value:
                out = set_path(out, path, text)
        return out
