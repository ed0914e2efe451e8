"""One HTTP request the collector is about to send, and what came back, as plain values."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from collectorkit._records import set_path

__all__ = ["PageResponse", "RequestSpec", "StopReason", "set_in_body"]


class StopReason(StrEnum):
    """Why a collection (or one shard of it) stopped."""

    NO_NEXT = "no_next"
    """The response carried no next cursor or link."""
    HAS_MORE_FALSE = "has_more_false"
    """The response said there is no more (``has_more_path`` was false)."""
    EMPTY_PAGE = "empty_page"
    SHORT_PAGE = "short_page"
    """Fewer records than ``page_size`` came back (``stop_on_short_page``)."""
    SAME_POSITION = "same_position"
    """An empty page pointed back at the position just asked for (the next cursor or link was
    the one sent, or an offset had nothing to move past): the API has nothing more now."""
    EMPTY_PAGES = "empty_pages"
    """A second empty page in a row that still pointed on (a new next cursor or link, or
    ``has_more`` true): the API has nothing more now, but keeps pointing on (Okta's polling log
    hands out a new next link on every empty page). The position is kept and the walk is left
    open, so the next run goes on from there — stopping loses nothing; following would never end."""
    TOTAL_REACHED = "total_reached"
    MAX_OFFSET = "max_offset"
    """The next offset would reach ``max_offset``: the walk is complete by configuration."""
    MAX_PAGE = "max_page"
    """Page ``max_page`` was the last to ask for: the walk is complete by configuration."""
    SINGLE_PAGE = "single_page"
    """Pagination mode ``none``: the one response was the whole result."""
    CAUGHT_UP = "caught_up"
    """Incremental collection: no new time window to ask for yet."""
    LIMIT_REACHED = "limit_reached"
    TIME_BUDGET = "time_budget"
    """The execution time budget would not cover another request."""
    MAX_PAGES = "max_pages"
    """``max_pages`` requests were sent: an interruption, the API may have more."""
    SELF_CHECK = "self_check"
    """A self-check cut the walk short: ``data_path`` matched nothing in a body that holds
    records elsewhere (the walk stopped before that page), or the next-page path matched nothing
    while the body pointed on (the window is left open). No state moves past records that were
    never read; the run is not complete."""
    NO_NEW_KEYS = "no_new_keys"
    """``pagination.max_repeated_pages`` pages in a row brought no record key not seen earlier
    in the walk while still pointing on (fresh cursors over the same records): following would
    never end. The position is kept and the walk left open, as for ``EMPTY_PAGES``."""

    @property
    def exhausted(self) -> bool:
        """True when the API has nothing more right now (the run is complete)."""
        return self not in _INCOMPLETE


_INCOMPLETE = {
    StopReason.LIMIT_REACHED,
    StopReason.TIME_BUDGET,
    StopReason.MAX_PAGES,
    StopReason.EMPTY_PAGES,
    StopReason.SELF_CHECK,
    StopReason.NO_NEW_KEYS,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSpec:
    """Method, URL (a path under ``base_url`` or an absolute URL), query, JSON body, headers."""

    method: str = "GET"
    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def replace(self, **changes: Any) -> RequestSpec:
        return dataclasses.replace(self, **changes)

    def with_param(self, name: str, value: Any) -> RequestSpec:
        return self.replace(params={**self.params, name: value})

    def with_body_value(self, path: str, value: Any) -> RequestSpec:
        return self.replace(json=set_in_body(self.json, path, value))


@dataclass(frozen=True, slots=True, kw_only=True)
class PageResponse:
    """What a paginator needs to know about one response."""

    request: RequestSpec
    url: str
    """The URL that was actually requested (relative next links resolve against it)."""
    body: Any
    headers: Any
    record_count: int


def set_in_body(body: Any, path: str, value: Any) -> dict[str, Any]:
    """A copy of the JSON object ``body`` with ``value`` at the dotted ``path`` (nests)."""
    # a deep copy: the spec's own body is shared by every request built from it
    return set_path(copy.deepcopy(dict(body)) if isinstance(body, Mapping) else {}, path, value)
