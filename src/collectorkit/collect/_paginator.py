"""The sans-I/O paginator: where the next request goes, and whether there is one.

It never sends anything: :meth:`Paginator.prepare` turns a position into a request and
:meth:`Paginator.advance` turns a response into the next position or a stop reason.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from collectorkit._errors import PaginationError
from collectorkit._records import (
    RawRecord,
    Record,
    all_records,
    field_values,
    is_record,
    record_digest,
)
from collectorkit.collect._pagination import PaginationConfig
from collectorkit.collect._spec import PageResponse, RequestSpec, StopReason
from collectorkit.collect._state import CollectorState

__all__ = ["Advance", "NewKeyWatch", "StandardPaginator", "next_link_from_headers"]

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+(?:=(?:\"[^\"]*\"|[^;,]*))?)*)")
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_REL = re.compile(r";\s*rel\s*=\s*(?:\"([^\"]*)\"|([^;,\s]+))", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Advance:
    """The paginator's decision: the state after this page and, when it was the last, why."""

    state: CollectorState
    stop_reason: StopReason | None = None


class StandardPaginator:
    """Implements every :class:`PaginationConfig` mode (the :class:`~collectorkit.typing.Paginator`
    protocol)."""

    __slots__ = ("config",)

    def __init__(self, config: PaginationConfig) -> None:
        self.config = config

    # --- the request ---------------------------------------------------------------------------

    def prepare(self, request: RequestSpec, state: CollectorState) -> RequestSpec:
        """``request`` as it must be sent for the position in ``state``."""
        cfg = self.config
        if cfg.mode == "cursor":
            request = self._size(request)
            return self._cursor(request, state.cursor) if state.cursor is not None else request
        if cfg.mode == "page":
            page = state.page if state.page is not None else cfg.start_page
            return self._size(self._put(request, cfg.page_param, page))
        if cfg.mode == "offset":
            offset = state.offset or 0
            request = self._size(self._put(request, cfg.offset_param, offset))
            if cfg.offset_end_param and cfg.page_size is not None:
                request = self._put(request, cfg.offset_end_param, offset + cfg.page_size)
            return request
        if cfg.mode == "link":
            if state.next_link is not None:
                return request.replace(url=state.next_link, params={})
            return self._size(request)
        return request

    def position_key(self, request: RequestSpec, state: CollectorState) -> str | None:
        """What must not repeat within one walk (the cursor or link sent), if anything."""
        if self.config.mode == "cursor":
            return state.cursor
        if self.config.mode == "link":
            return state.next_link
        return None

    def _size(self, request: RequestSpec) -> RequestSpec:
        cfg = self.config
        if cfg.page_size_param and cfg.page_size is not None:
            return self._put(request, cfg.page_size_param, cfg.page_size)
        return request

    def _put(self, request: RequestSpec, name: str, value: Any) -> RequestSpec:
        if self.config.param_location == "body":
            return request.with_body_value(name, value)
        return request.with_param(name, value)

    def _cursor(self, request: RequestSpec, cursor: str) -> RequestSpec:
        cfg = self.config
        if cfg.cursor_location == "header":
            return request.replace(headers={**request.headers, cfg.cursor_param: cursor})
        if cfg.cursor_location == "body":
            base = None if cfg.cursor_only_body else request.json
            return request.replace(
                json=RequestSpec(url="", json=base).with_body_value(cfg.cursor_param, cursor).json
            )
        return request.with_param(cfg.cursor_param, cursor)

    # --- the response --------------------------------------------------------------------------

    def advance(self, state: CollectorState, response: PageResponse) -> Advance:
        """The position after ``response`` (all its records consumed), or the stop reason."""
        mode = self.config.mode
        if mode == "cursor":
            return self._advance_token(state, response, self._next_cursor(response), "cursor")
        if mode == "link":
            return self._advance_token(state, response, self._next_link(response), "next_link")
        if mode == "page":
            return self._advance_page(state, response)
        if mode == "offset":
            return self._advance_offset(state, response)
        return Advance(state.reset_position().replace(has_more=False), StopReason.SINGLE_PAGE)

    def partial(self, state: CollectorState, consumed: int) -> CollectorState:
        """The position of the page ``state`` points at, with its first ``consumed`` records taken.

        Offsets absorb the count (``offset + consumed``); other modes re-request the same page
        with ``skip`` counting the records taken (the walker then names them in ``skip_keys``).
        """
        if self.config.mode == "offset":
            return state.replace(offset=(state.offset or 0) + state.skip + consumed, skip=0)
        return state.replace(skip=state.skip + consumed)

    def _advance_token(
        self, state: CollectorState, response: PageResponse, token: str | None, field: str
    ) -> Advance:
        count = response.record_count
        sent = getattr(state, field)
        reason = self._end_reason(response, next_given=token is not None and token != sent)
        if reason is None and token is None:
            reason = StopReason.NO_NEXT
        elif reason is None and count == 0 and token == sent:
            reason = StopReason.SAME_POSITION
        if reason is None:
            return Advance(state.replace(skip=0, has_more=True, **{field: token}))
        # Feeds (Okta, 1Password) hand out the token to poll next time even on their last page;
        # without one, the next run re-reads this page and skips what was taken.
        end = state.replace(skip=0, **{field: token}) if token else state.replace(skip=count)
        return Advance(end.replace(has_more=False), reason)

    def _advance_page(self, state: CollectorState, response: PageResponse) -> Advance:
        cfg = self.config
        page = state.page if state.page is not None else cfg.start_page
        count = response.record_count
        reason = self._end_reason(response)
        if reason is None and self._reached(
            response, "total_pages_path", page - cfg.start_page + 1
        ):
            reason = StopReason.TOTAL_REACHED
        if reason is None and cfg.max_page is not None and page >= cfg.max_page:
            return Advance(state.reset_position().replace(has_more=False), StopReason.MAX_PAGE)
        if reason is None:
            return Advance(state.replace(page=page + 1, skip=0, has_more=True))
        if cfg.page_size is not None and count >= cfg.page_size:
            return Advance(state.replace(page=page + 1, skip=0, has_more=False), reason)
        # a short or empty last page: the next run re-reads it and skips what was taken
        return Advance(state.replace(page=page, skip=count, has_more=False), reason)

    def _advance_offset(self, state: CollectorState, response: PageResponse) -> Advance:
        cfg = self.config
        offset = (state.offset or 0) + response.record_count
        reason = self._end_reason(response)
        if reason is None and response.record_count == 0:
            reason = StopReason.SAME_POSITION  # "more", but nothing to move the offset past
        if reason is None and self._reached(response, "total_path", offset):
            reason = StopReason.TOTAL_REACHED
        if reason is None and cfg.max_offset is not None and offset >= cfg.max_offset:
            return Advance(state.reset_position().replace(has_more=False), StopReason.MAX_OFFSET)
        return Advance(state.replace(offset=offset, skip=0, has_more=reason is None), reason)

    def _end_reason(self, response: PageResponse, *, next_given: bool = False) -> StopReason | None:
        """Why this page is the last, or ``None`` when something says there is more:
        ``has_more`` true, or (``next_given``) a next cursor/link other than the one sent."""
        cfg = self.config
        more = self._more(response)
        if more is True:
            return None
        count = response.record_count
        if count == 0 and cfg.stop_on_empty_page and not next_given:
            return StopReason.EMPTY_PAGE
        if more is False:
            return StopReason.HAS_MORE_FALSE
        if cfg.stops_on_short_page and cfg.page_size is not None and count < cfg.page_size:
            return StopReason.SHORT_PAGE
        return None

    def _value(self, response: PageResponse, name: str) -> Any:
        path = self.config.path(name)
        return path.search(response.body) if path is not None else None

    def _more(self, response: PageResponse) -> bool | None:
        """What ``has_more_path`` says (``None`` when it is not configured)."""
        if self.config.has_more_path is None:
            return None
        value = self._value(response, "has_more_path")
        flag = _truth(value)
        if flag is None:
            raise self._unusable("has_more_path", value, "true or false")
        return flag

    def _reached(self, response: PageResponse, name: str, done: int) -> bool:
        """Whether ``done`` reached the total at the path ``name`` (``False`` without one)."""
        return getattr(self.config, name) is not None and done >= self._count(response, name)

    def _count(self, response: PageResponse, name: str) -> int:
        """The count at the configured path ``name`` (a total), or :class:`PaginationError`."""
        value = self._value(response, name)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._unusable(name, value, "a count")
        return value

    def _unusable(self, name: str, value: Any, expected: str) -> PaginationError:
        found = "missing" if value is None else f"{value!r}"
        return PaginationError(
            f"pagination.{name} {getattr(self.config, name)!r} in the response is {found}; "
            f"expected {expected}"
        )

    def _next_cursor(self, response: PageResponse) -> str | None:
        header = self.config.next_cursor_header
        if header is not None:
            values = _header_values(response.headers, header.lower())
            return values[0].strip() or None if values else None
        value = self._value(response, "next_cursor_path")
        if value is None or value == "" or isinstance(value, bool | dict | list):
            return None
        return str(value)

    def _next_link(self, response: PageResponse) -> str | None:
        if self.config.link_path is not None:
            value = self._value(response, "link_path")
            link = value if isinstance(value, str) and value else None
        else:
            link = next_link_from_headers(response.headers)
        return urljoin(response.url, link) if link else None


class NewKeyWatch:
    """Whether a walk still brings new records: stops it with ``NO_NEW_KEYS`` after ``limit``
    non-empty pages in a row whose every record key was seen earlier in the walk.

    A record's key is the value of its identifying field (the first top-level field whose
    string or number differs in every record of a page, ``id`` preferred; found once per walk),
    or its content digest when it has none. At least the last ``memory`` keys are remembered,
    as their hashes, in sets of at least 500 keys (a page that big is kept as the set the
    walk hashed anyway; smaller pages are gathered into one): the oldest set goes once the
    newer ones hold ``memory`` keys. A page is new when a key of it is in none of those sets —
    in the common case its first key tells, so a page costs a few dozen lookups instead of
    merging its keys into one big set (~70 bytes a key; the ids themselves added 23 MB to a
    run's peak RSS).
    """

    __slots__ = ("_chunk", "_field", "_held", "_limit", "_memory", "_run", "_sets")

    def __init__(self, limit: int, *, memory: int = 50_000) -> None:
        self._limit = limit
        self._memory = memory
        self._run = 0
        self._field: str | None = None
        self._sets: deque[set[int]] = deque()  # full sets, oldest first
        self._chunk: set[int] = set()  # small pages gathered until it is full
        self._held = 0  # keys in self._sets

    def page_keys(self, records: list[Record]) -> tuple[set[int], bool]:
        """The hashes of the page's record keys, and whether they are the identifying field's
        values (not digests). Computed once per page: the walk also tells from them that no
        record of the page repeats (as many hashes as records)."""
        keys, by_field = self._keys(records)
        return set(map(hash, keys)), by_field

    def after_page(
        self, records: list[Record], stop: StopReason | None, keys: set[int] | None = None
    ) -> StopReason | None:
        """``stop``, or ``NO_NEW_KEYS`` when this page made ``limit`` in a row without a new key
        (``keys``: the page's from :meth:`page_keys`, when the walk has them already)."""
        if not records:
            return stop
        page = keys if keys is not None else self.page_keys(records)[0]
        sets, chunk = self._sets, self._chunk
        new = any(key not in chunk and all(key not in s for s in sets) for key in page)
        if len(page) >= _CHUNK:
            self._keep(page)
        else:
            chunk |= page
            if len(chunk) >= _CHUNK:
                self._keep(chunk)
                self._chunk = set()
        self._run = 0 if new else self._run + 1
        return StopReason.NO_NEW_KEYS if stop is None and self._run >= self._limit else stop

    def _keep(self, keys: set[int]) -> None:
        sets = self._sets
        sets.append(keys)
        self._held += len(keys)
        while self._held - len(sets[0]) >= self._memory:
            self._held -= len(sets.popleft())

    def _keys(self, records: list[Record]) -> tuple[list[object], bool]:
        name = self._field or _identifying_field(records)
        self._field = name
        if name is not None and type(records[0]) in _RECORD_TYPES:
            try:  # the common case, at C speed: every record a dict with a string/number there
                values = field_values(records, name)
                if set(map(type, values)) <= _KEY_TYPES:
                    return values, True
            except (AttributeError, KeyError, TypeError):  # something else than a record
                pass
        if name is None:
            return [record_digest(r) if is_record(r) else repr(r) for r in records], False
        # The field's value itself (one field per walk): a digest never equals an id.
        keys: list[object] = [
            value
            if is_record(r) and isinstance(value := r.get(name), str | int)
            else record_digest(r)
            if is_record(r)
            else repr(r)
            for r in records
        ]
        return keys, False


_KEY_TYPES = {str, int}
_CHUNK = 500  # keys per remembered set: at most ~memory / 500 lookups per new key
_RECORD_TYPES = (dict, RawRecord)


def _identifying_field(records: list[Record]) -> str | None:
    """A top-level field whose string or number differs in every record (``id`` first)."""
    first = records[0]
    if len(records) < 2 or not all_records(records):
        return None
    names = sorted(first, key=lambda n: n != "id")
    for name in names:
        values = {r.get(name) for r in records if isinstance(r.get(name), str | int)}
        if len(values) == len(records):
            return name
    return None


def _truth(value: Any) -> bool | None:
    """``value`` as a flag (JSON booleans, 0/1, "true"/"false"/"yes"/"no"), else ``None``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _FLAGS.get(value.strip().lower())
    return None


def next_link_from_headers(headers: Any) -> str | None:
    """The ``rel="next"`` target of the RFC 8288 ``Link`` header(s), if any.

    Accepts several ``Link`` headers (Okta sends one per rel) or one comma-joined header.
    """
    for value in _header_values(headers, "link"):
        for match in _LINK.finditer(value):
            for rel in _REL.finditer(match.group(2)):
                rels = (rel.group(1) or rel.group(2) or "").lower().split()
                if "next" in rels:
                    return match.group(1).strip()
    return None


def _header_values(headers: Any, name: str) -> list[str]:
    for getter in ("get_list", "getall", "get_all"):
        method = getattr(headers, getter, None)
        if method is not None:
            try:
                return [str(v) for v in method(name, [])]
            except TypeError:
                return [str(v) for v in method(name)]
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == name:
                return list(value) if isinstance(value, list | tuple) else [str(value)]
    return []
