"""Dotted paths (``"meta.user.id"``) into JSON objects, without mutating the input.

Reading and setting are :func:`collectorkit._records.lookup_path` and ``set_path`` (one
implementation each, re-exported here); removing is the pipeline's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectorkit._records import lookup_path, set_path

__all__ = ["MISSING", "get_path", "pop_path", "set_path"]

MISSING: Any = object()


def get_path(record: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` or :data:`MISSING`."""
    return lookup_path(record, path, MISSING)


def pop_path(record: dict[str, Any], path: str) -> tuple[dict[str, Any], Any]:
    """A copy of ``record`` without ``path``, and the removed value (or :data:`MISSING`)."""
    head, _, rest = path.partition(".")
    if head not in record:
        return record, MISSING
    if not rest:
        out = dict(record)
        return out, out.pop(head)
    child = record[head]
    if not isinstance(child, dict):
        return record, MISSING
    new_child, value = pop_path(child, rest)
    if value is MISSING:
        return record, MISSING
    out = dict(record)
    out[head] = new_child
    return out, value
