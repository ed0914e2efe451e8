"""Time formats the vendors use: RFC 3339 with 3 or 7 fractional digits, epoch ms/s, HTTP dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

__all__ = ["http_date", "iso", "parse_time", "parse_time_ms"]

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


def iso(ms: int, *, digits: int = 3, offset_minutes: int = 0, zone: bool = True) -> str:
    """``ms`` since the epoch as RFC 3339 (``2024-05-01T00:00:03.512Z``).

    ``digits`` fractional digits (0, 3, 6 or 7; precision beyond ms is zero-padded),
    ``offset_minutes`` renders in that UTC offset (``-03:00``), ``zone=False`` omits the suffix.
    """
    tz = timezone(timedelta(minutes=offset_minutes)) if offset_minutes else UTC
    dt = datetime.fromtimestamp(ms // 1000, tz)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        frac = f"{ms % 1000:03d}" + "0" * max(0, digits - 3)
        text += "." + frac[:digits]
    if not zone:
        return text
    if not offset_minutes:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    h, m = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{h:02d}:{m:02d}"


def parse_time_ms(text: str) -> int | None:
    """RFC 3339 / ISO 8601 (date only, no zone = UTC), epoch seconds or epoch ms → epoch ms.

    None when the text is none of these. Sub-millisecond digits are truncated.
    """
    text = text.strip().strip("'\"")
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return int(float(text) * 1000)
    if re.fullmatch(r"\d{12,13}", text):
        return int(text)
    m = _ISO.match(text)
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), tzinfo=UTC)
    except ValueError:
        return None
    ms = int(dt.timestamp()) * 1000 + (int((frac or "0")[:3].ljust(3, "0")))
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        ms -= sign * (int(digits[:2]) * 60 + int(digits[2:])) * 60_000
    return ms


def parse_time(text: str) -> float | None:
    """Like :func:`parse_time_ms`, in seconds."""
    ms = parse_time_ms(text)
    return None if ms is None else ms / 1000


def http_date(epoch: float) -> str:
    """An IMF-fixdate (``Sat, 21 Nov 2026 23:43:37 GMT``) as ``Retry-After`` may carry."""
    return format_datetime(datetime.fromtimestamp(int(epoch), UTC), usegmt=True)
