"""Records from whatever a source's ``collect()`` returned: a list, one record, or raw bytes."""

from __future__ import annotations

from typing import Any

import orjson

from collectorkit._errors import SourceError
from collectorkit._records import Record

__all__ = ["as_records", "decode_records"]


def decode_records(raw: bytes, data_format: str = "json") -> list[Record]:
    """JSON objects/arrays when ``data_format`` is ``"json"``, else one ``{"data": text}``."""
    if not raw:
        return []
    if data_format == "json":
        try:
            value: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            return [v if isinstance(v, dict) else {"data": v} for v in value]
    return [{"data": raw.decode("utf-8", "replace")}]


def as_records(value: Any) -> list[Record]:
    """A list of dicts, one dict, or an object with ``raw_data`` bytes (and ``data_format``)."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"data": v} for v in value]
    raw = getattr(value, "raw_data", None)
    if isinstance(raw, bytes):
        return decode_records(raw, str(getattr(value, "data_format", "json")))
    raise SourceError(f"a source returned {type(value).__name__}, not records")
