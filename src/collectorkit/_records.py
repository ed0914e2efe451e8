"""Records as they travel from a source through the pipeline to the sinks."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Envelope", "Record", "lookup_path", "record_digest", "record_key", "set_path"]

Record = dict[str, Any]
"""One event as decoded from the API: a JSON object."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A record on its way to the sinks, with the idempotency key every sink deduplicates on."""

    source: str
    key: str
    data: Mapping[str, Any]


def lookup_path(record: Any, dotted: str | Sequence[str], missing: Any = None) -> Any:
    """The value at the dotted path ``dotted`` (``"meta.uid"``, or its keys already split:
    ``("meta", "uid")``) in ``record``, or ``missing`` when a part of the path is absent or
    leads into something that is not a mapping."""
    if isinstance(dotted, str):
        if "." not in dotted:
            return record.get(dotted, missing) if isinstance(record, Mapping) else missing
        dotted = dotted.split(".")
    value: Any = record
    for part in dotted:
        if not isinstance(value, Mapping) or part not in value:
            return missing
        value = value[part]
    return value


def set_path(record: Mapping[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``record`` (copied along ``dotted`` only) with ``value`` at the dotted path;
    missing parents, and parents that are not objects, become new objects."""
    head, _, rest = dotted.partition(".")
    out = dict(record)
    if not rest:
        out[head] = value
        return out
    child = out.get(head)
    out[head] = set_path(child if isinstance(child, Mapping) else {}, rest, value)
    return out


def record_key(source: str, record: Mapping[str, Any], key_fields: Sequence[str] = ()) -> str:
    """The idempotency key of ``record``: ``source`` plus the key fields, or a content hash.

    ``key_fields`` are dotted paths (``"id"``, ``"meta.uid"``); several combine, e.g.
    ``("id", "updated_at")`` for APIs that re-deliver a record when it changes. When a key field is
    missing (or none is configured) the key is a SHA-256 of the canonical JSON of the record.
    """
    parts = [lookup_path(record, f) for f in key_fields]
    if key_fields and all(p is not None for p in parts):
        return source + ":" + "|".join(str(p) for p in parts)
    return f"{source}:sha256:{record_digest(record)}"


def record_digest(record: Mapping[str, Any]) -> str:
    """32 hex digits of the SHA-256 of ``record`` as canonical JSON (keys sorted): the same for
    records with the same content, whatever the order of their keys."""
    return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
