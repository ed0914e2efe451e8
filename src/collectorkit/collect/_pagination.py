"""How an API pages: :class:`PaginationConfig`, validated once where it is built."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from collectorkit._errors import ConfigError
from collectorkit._registry import Registry
from collectorkit.collect._paths import JSONPath, compile_path

__all__ = ["PAGINATION_MODES", "PaginationConfig"]

_PAGING = (
    "page_size",
    "page_size_param",
    "param_location",
    "max_pages",
    "stop_on_empty_page",
    "stop_on_short_page",
)
PAGINATION_MODES: Registry[tuple[str, ...]] = Registry(
    "pagination mode",
    {
        "cursor": (
            "cursor_param",
            "next_cursor_path",
            "next_cursor_header",
            "cursor_location",
            "cursor_only_body",
            "has_more_path",
            "expired_cursor_statuses",
            *_PAGING,
        ),
        "page": (
            "page_param",
            "start_page",
            "total_pages_path",
            "max_page",
            "has_more_path",
            *_PAGING,
        ),
        "offset": (
            "offset_param",
            "offset_end_param",
            "total_path",
            "max_offset",
            "has_more_path",
            *_PAGING,
        ),
        "link": ("link_path", "expired_cursor_statuses", *_PAGING),
        "none": (),
    },
)
"""Pagination mode → the :class:`PaginationConfig` options that mode reads (a configuration
file may set only those; the types and defaults are the fields')."""
PaginationMode = Literal["cursor", "page", "offset", "link", "none"]
_PATH_FIELDS = (
    "next_cursor_path",
    "has_more_path",
    "total_pages_path",
    "total_path",
    "link_path",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaginationConfig:
    """How to ask for the next page and how to know there is none.

    Modes:

    * ``cursor`` — send the token found at ``next_cursor_path`` (or in the response header
      ``next_cursor_header``) as ``cursor_param``, in the query, the JSON body (a dotted
      ``cursor_param`` nests) or a header (``cursor_location``).
      ``cursor_only_body=True`` sends a body of only the cursor once there is one (1Password's
      ``{"cursor": …}`` vs its first ``{"limit": …, "start_time": …}``).
    * ``page`` — ``page_param`` counts from ``start_page``; optional ``total_pages_path``;
      ``max_page`` is the last page number asked for.
    * ``offset`` — ``offset_param`` advances by the records received; optional ``total_path``;
      ``max_offset`` is the first offset not asked for (CrowdStrike: ``offset + limit <= 10000``);
      ``offset_end_param`` sends the exclusive end ``offset + page_size`` (Cortex XDR's
      ``search_to``). ``param_location="body"`` puts page/offset/size into the JSON body.
    * ``link`` — follow the URL at ``link_path``, or without it the RFC 8288
      ``Link: <…>; rel="next"`` header; relative links resolve against the request URL.
    * ``none`` — one request is the whole result.

    Paths are JMESPath (a dotted path is one; ``[-1].id`` reads the last record of a list body).
    A configured ``has_more_path``, ``total_path`` or ``total_pages_path`` must be in every
    response and readable (``true``/``false``, a count): otherwise :class:`PaginationError`.
    A walk ends complete on no next token/link, ``has_more`` false, an empty page that nothing
    says is followed by more (``has_more`` true or a new next cursor/link go on), an empty page
    pointing back at the position just asked for, a short page (``stop_on_short_page``:
    ``None`` means on for page/offset modes, off for cursor/link), the total reached, or
    ``max_offset``/``max_page`` (the next run then starts from the first page); ``max_pages``
    only interrupts it (the next run goes on from there), as does ``max_repeated_pages``: that
    many non-empty pages in a row that bring no record key not seen earlier in the walk (an API
    handing out fresh cursors over the same records forever). When the API gave a next
    cursor or link with its last page (feeds such as 1Password or Okta polling), the state keeps
    it so the next run continues from there. ``expired_cursor_statuses`` are the statuses that,
    on the first request of a resumed cursor/link, mean "this cursor expired": the collector
    then falls back to the incremental watermark, or without one to a fresh walk (logged; the
    sinks' keys absorb what it repeats), instead of failing.
    """

    mode: PaginationMode = "none"
    cursor_param: str = "cursor"
    next_cursor_path: str | None = None
    next_cursor_header: str | None = None
    cursor_location: Literal["query", "body", "header"] = "query"
    cursor_only_body: bool = False
    has_more_path: str | None = None
    page_param: str = "page"
    start_page: int = 1
    total_pages_path: str | None = None
    page_size_param: str | None = None
    page_size: int | None = None
    offset_param: str = "offset"
    offset_end_param: str | None = None
    total_path: str | None = None
    param_location: Literal["query", "body"] = "query"
    link_path: str | None = None
    stop_on_empty_page: bool = True
    stop_on_short_page: bool | None = None
    max_pages: int | None = None
    max_offset: int | None = None
    max_page: int | None = None
    max_repeated_pages: int = 3
    expired_cursor_statuses: tuple[int, ...] = (400, 404, 410)
    paths: dict[str, JSONPath | None] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        where = "pagination"
        PAGINATION_MODES.lookup(self.mode, path=f"{where}.mode")
        for name in _PATH_FIELDS:
            self.paths[name] = compile_path(getattr(self, name), field=f"{where}.{name}")
        _check_choice(self.cursor_location, ("query", "body", "header"), f"{where}.cursor_location")
        _check_choice(self.param_location, ("query", "body"), f"{where}.param_location")
        _check_int(self.page_size, f"{where}.page_size", minimum=1, optional=True)
        _check_int(self.start_page, f"{where}.start_page", minimum=0)
        _check_int(self.max_pages, f"{where}.max_pages", minimum=1, optional=True)
        _check_int(self.max_offset, f"{where}.max_offset", minimum=1, optional=True)
        _check_int(self.max_page, f"{where}.max_page", minimum=self.start_page, optional=True)
        _check_int(self.max_repeated_pages, f"{where}.max_repeated_pages", minimum=1)
        object.__setattr__(
            self, "expired_cursor_statuses", _statuses(self.expired_cursor_statuses, where)
        )
        if self.mode == "cursor" and self.next_cursor_path is None and not self.next_cursor_header:
            raise ConfigError(
                "cursor mode needs next_cursor_path (where the next cursor is in the response "
                "body) or next_cursor_header",
                path=f"{where}.next_cursor_path",
            )
        if self.offset_end_param is not None and self.page_size is None:
            raise ConfigError(
                "offset_end_param needs page_size (the end is offset + page_size)",
                path=f"{where}.page_size",
            )

    def path(self, name: str) -> JSONPath | None:
        return self.paths.get(name)

    @property
    def stops_on_short_page(self) -> bool:
        """``stop_on_short_page``, or the mode's default: page/offset yes, cursor/link no
        (a feed's short page is often not its last)."""
        if self.stop_on_short_page is not None:
            return self.stop_on_short_page
        return self.mode in ("page", "offset")

    def replace(self, **changes: Any) -> PaginationConfig:
        return dataclasses.replace(self, **changes)


def _check_choice(value: str, choices: tuple[str, ...], field: str) -> None:
    if value not in choices:
        raise ConfigError(f"expected one of {', '.join(choices)}, got {value!r}", path=field)


def _check_int(value: Any, field: str, *, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"expected an integer >= {minimum}, got {value!r}", path=field)


def _statuses(value: Iterable[int], where: str) -> tuple[int, ...]:
    statuses = tuple(value)
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfigError(
                f"expected HTTP status codes, got {status!r}",
                path=f"{where}.expired_cursor_statuses",
            )
    return statuses
