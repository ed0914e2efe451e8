"""Timestamp normalisation: whatever the API sends becomes UTC ISO 8601 (``...Z``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta, timezone
from typing import Any

from collectorkit._errors import ProcessingError
from collectorkit._instants import check_epoch_unit, parse_instant
from collectorkit._records import Record
from collectorkit.pipeline._base import BaseProcessor
from collectorkit.pipeline._paths import MISSING, get_path, set_path

__all__ = ["TimestampProcessor", "to_utc_iso"]


def to_utc_iso(value: Any, *, epoch_unit: str = "auto", assume_timezone: timezone = UTC) -> str:
    """``value`` (ISO 8601, RFC 2822, epoch s/ms/us/ns, datetime) as ``YYYY-MM-DDTHH:MM:SS[.f]Z``.

    Read by :func:`collectorkit._instants.parse_instant`: ``epoch_unit="auto"`` guesses the unit
    from the magnitude (seconds up to the year 5138). Naive times are taken to be in
    ``assume_timezone``. Raises ``ValueError`` when unparseable.
    """
    parsed = parse_instant(value, epoch_unit=epoch_unit, assume_timezone=assume_timezone)
    return parsed.isoformat().replace("+00:00", "Z")


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
        check_epoch_unit(epoch_unit)
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
