"""Where a collection stands: the position to resume from and the incremental watermark.

A :class:`CollectorState` is immutable; the collector hands out a new one for every page, to be
saved only after that page's records were delivered. It round-trips through JSON with
:meth:`~CollectorState.to_dict` / :meth:`~CollectorState.from_dict`, and in a dict-like context
(an integration context) it lives under ``collector_client[collector_name][state_key]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collectorkit._errors import ConfigError
from collectorkit._instants import parse_instant

__all__ = ["CONTEXT_ROOT", "CollectorState"]

STATE_VERSION = 1
CONTEXT_ROOT = "collector_client"


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectorState:
    """The resume point of one collector feed (or, with ``shards``, of several).

    Position fields say which request comes next: ``cursor``, ``page``, ``offset`` or
    ``next_link`` (one of them, by pagination mode; ``None`` means the first page). ``skip`` > 0
    says that page was already partly delivered (``skip`` records of it when last fetched: a run
    stopped by ``limit`` mid-page, or a last page without a next cursor); ``skip_keys`` names
    those records by content digest, so a page the API changed since (records inserted, expired
    or repeated) still resumes after exactly what was delivered. A ``skip`` without ``skip_keys``
    (a state saved before they existed) skips nothing: the page is delivered again.
    ``window_start``/``window_end`` pin the incremental window being walked, so a resumed cursor
    is sent with the same filter it was issued for; a ``window_start`` without a ``window_end``
    is where the next window of an unfinished walk starts. ``watermark`` is the newest record
    instant delivered (or the end of a completed window); ``boundary_ids`` maps the ids of
    delivered records in the overlap zone to their instant (epoch seconds), so the next window's
    overlap does not deliver them again. An integer incremental cursor keeps ``last_value``
    (the greatest value delivered) instead of a watermark, and ``start_value`` pins the value a
    walk was started from. ``has_more`` says whether the API is known to have more
    now.
    """

    cursor: str | None = None
    page: int | None = None
    offset: int | None = None
    next_link: str | None = None
    skip: int = 0
    skip_keys: frozenset[str] = frozenset()
    window_start: datetime | None = None
    window_end: datetime | None = None
    watermark: datetime | None = None
    start_value: int | None = None
    last_value: int | None = None
    boundary_ids: Mapping[str, float] = field(default_factory=dict)
    has_more: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    shards: Mapping[str, CollectorState] = field(default_factory=dict)
    version: int = STATE_VERSION

    def __post_init__(self) -> None:
        # the keys name records of a partly delivered page: without a skip there is none
        keys = frozenset(self.skip_keys) if self.skip > 0 else frozenset()
        object.__setattr__(self, "skip_keys", keys)

    def replace(self, **changes: Any) -> CollectorState:
        return dataclasses.replace(self, **changes)

    def reset_position(self) -> CollectorState:
        """This state with no cursor/page/offset/link: the next request is the first page."""
        return self.replace(cursor=None, page=None, offset=None, next_link=None, skip=0)

    @property
    def has_position(self) -> bool:
        return any(v is not None for v in (self.cursor, self.page, self.offset, self.next_link))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (instants as ISO 8601 UTC strings)."""
        out: dict[str, Any] = {
            "version": self.version,
            "cursor": self.cursor,
            "page": self.page,
            "offset": self.offset,
            "next_link": self.next_link,
            "skip": self.skip,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "watermark": _iso(self.watermark),
            "boundary_ids": dict(self.boundary_ids),
            "has_more": self.has_more,
            "metadata": dict(self.metadata),
        }
        if self.last_value is not None or self.start_value is not None:
            out["start_value"] = self.start_value
            out["last_value"] = self.last_value
        if self.skip_keys:
            out["skip_keys"] = sorted(self.skip_keys)
        if self.shards:
            out["shards"] = {k: v.to_dict() for k, v in self.shards.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CollectorState:
        """The state saved by :meth:`to_dict` (``None`` or ``{}`` gives a fresh state).

        Raises :class:`ConfigError` naming the field when a value has the wrong type.
        """
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"expected a mapping, got {type(data).__name__}", path="state")
        version = _typed(data, "version", int, STATE_VERSION)
        if version > STATE_VERSION:
            raise ConfigError(
                f"state version {version} is newer than this collectorkit understands "
                f"({STATE_VERSION})",
                path="state.version",
            )
        metadata = dict(_typed(data, "metadata", Mapping, {}))
        shards = _typed(data, "shards", Mapping, {})
        return cls(
            cursor=_typed(data, "cursor", str, None),
            page=_typed(data, "page", int, None),
            offset=_typed(data, "offset", int, None),
            next_link=_typed(data, "next_link", str, None) or metadata.get("next_link"),
            skip=_typed(data, "skip", int, 0),
            skip_keys=_keys(data, "skip_keys"),
            window_start=_instant(data, "window_start"),
            window_end=_instant(data, "window_end"),
            watermark=_instant(data, "watermark"),
            start_value=_typed(data, "start_value", int, None),
            last_value=_typed(data, "last_value", int, None),
            boundary_ids={
                str(k): float(v) for k, v in _typed(data, "boundary_ids", Mapping, {}).items()
            },
            has_more=bool(data.get("has_more", False)),
            metadata=metadata,
            shards={str(k): cls.from_dict(v) for k, v in shards.items()},
            version=STATE_VERSION,
        )

    @classmethod
    def from_context(
        cls, context: Mapping[str, Any] | None, collector_name: str, state_key: str
    ) -> CollectorState | None:
        """The state kept under ``collector_client[collector_name][state_key]``, if any."""
        if not context:
            return None
        entry = context.get(CONTEXT_ROOT, {}).get(collector_name, {}).get(state_key)
        return cls.from_dict(entry) if entry else None

    def to_context(
        self, context: MutableMapping[str, Any], collector_name: str, state_key: str
    ) -> MutableMapping[str, Any]:
        """Store this state in ``context`` (in place, other keys kept) and return ``context``."""
        root = context.setdefault(CONTEXT_ROOT, {})
        root.setdefault(collector_name, {})[state_key] = self.to_dict()
        return context


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _typed(data: Mapping[str, Any], key: str, kind: Any, default: Any) -> Any:
    value = data.get(key, default)
    if value is None or value is default:
        return value
    if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
        raise ConfigError(
            f"expected {getattr(kind, '__name__', kind)}, got {value!r}", path=f"state.{key}"
        )
    return value


def _keys(data: Mapping[str, Any], key: str) -> frozenset[str]:
    values = _typed(data, key, list, [])
    for value in values:
        if not isinstance(value, str):
            raise ConfigError(f"expected strings, got {value!r}", path=f"state.{key}")
    return frozenset(values)


def _instant(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    return None if value is None else parse_instant(value, field=f"state.{key}")
