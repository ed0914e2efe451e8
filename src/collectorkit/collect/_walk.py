"""The one page loop: walk a feed (or one shard) window by window, page by page.

Every strategy, ``collect_events`` and ``iter_pages`` are built on :class:`FeedWalker`.
Decisions are taken by the sans-I/O paginator and incremental config; this module only sends,
measures time and hands out pages with the state to save after each.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from collectorkit._clock import Clock
from collectorkit._errors import (
    CollectorTimeoutError,
    HTTPStatusError,
    PaginationError,
    ResponseDecodeError,
)
from collectorkit._records import Record
from collectorkit.collect._budget import Budget, Quota
from collectorkit.collect._incremental import IncrementalConfig
from collectorkit.collect._metrics import ExecutionMetrics
from collectorkit.collect._paginator import NewKeyWatch
from collectorkit.collect._raw import RawPages
from collectorkit.collect._request import CollectorRequest, Shard
from collectorkit.collect._resume import PageProgress
from collectorkit.collect._selfcheck import SelfCheck
from collectorkit.collect._spec import PageResponse, RequestSpec, StopReason
from collectorkit.collect._state import CollectorState
from collectorkit.http import CollectorLogger, get_logger
from collectorkit.typing import Paginator

__all__ = ["FeedWalker", "Send", "WalkedPage"]

Send = Callable[[RequestSpec, float | None], Awaitable[Any]]
"""Sends one request with a deadline (monotonic) and returns the response."""


_LOOP_MEMORY = 10_000
"""How many recent cursors/links a walk remembers to detect an API that loops."""


class _RecentKeys:
    """The last ``size`` keys seen, for loop detection in bounded memory."""

    __slots__ = ("_order", "_seen", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._seen: set[str] = set()
        self._order: deque[str] = deque()

    def add(self, key: str) -> bool:
        """Remember ``key``; ``False`` when it was already there."""
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._size:
            self._seen.discard(self._order.popleft())
        return True

    def clear(self) -> None:
        self._seen.clear()
        self._order.clear()


@dataclass(frozen=True, slots=True)
class WalkedPage:
    events: list[Record]
    state: CollectorState
    stop_reason: StopReason | None
    partial: Callable[[int], CollectorState] | None


class FeedWalker:
    """Walks one feed from ``state``; ``state`` always holds the last state handed out."""

    def __init__(
        self,
        *,
        request: CollectorRequest,
        shard: Shard | None,
        state: CollectorState,
        send: Send,
        clock: Clock,
        budget: Budget,
        quota: Quota,
        metrics: ExecutionMetrics,
        logger: CollectorLogger | None = None,
        check: SelfCheck | None = None,
        raw: RawPages | None = None,
    ) -> None:
        self.request = request
        self._raw = raw
        self.shard = shard
        self.state = state
        self.stop_reason: StopReason | None = None
        self._send = send
        self._clock = clock
        self._budget = budget
        self._quota = quota
        self._metrics = metrics
        self._log = logger or get_logger("collectorkit.collect")
        if shard is not None:
            self._log = self._log.bind(shard=shard.state_key)
        self.check = check or SelfCheck(request, self._log)
        self._paginator: Paginator = request.active_paginator
        self._inc: IncrementalConfig | None = request.incremental
        self._empty_before = False  # the page before this one (in this window) was empty
        self._new_keys = NewKeyWatch(request.pagination.max_repeated_pages)

    async def pages(self) -> AsyncIterator[WalkedPage]:
        """Pages until the feed ends, the limit or the budget is reached (``stop_reason``)."""
        pages_done = 0
        while True:
            if self._inc is not None:
                opened = self._inc.open_window(self.state, self._now())
                if opened is None:
                    self.stop_reason = StopReason.CAUGHT_UP
                    return
                self.state = opened
            async for page in self._walk_window(pages_done):
                pages_done += 1
                self.state = page.state
                yield page
            if self.stop_reason is not None:
                return

    async def _walk_window(self, pages_done: int) -> AsyncIterator[WalkedPage]:
        seen = _RecentKeys(_LOOP_MEMORY)
        self._empty_before = False
        self._new_keys = NewKeyWatch(self.request.pagination.max_repeated_pages)
        may_expire = self.request.pagination.mode in ("cursor", "link") and self.state.has_position
        max_pages = self.request.pagination.max_pages
        state = self.state
        while True:
            reason = self._stop_before_request(pages_done, max_pages)
            if reason is not None:
                self.stop_reason = reason
                return
            spec = self.request.next_request(state, self.shard)
            key = self._paginator.position_key(spec, state)
            if key is not None and not seen.add(key):
                raise PaginationError(
                    f"the API returned the same {self.request.pagination.mode} twice "
                    f"({key[:80]!r}); stopping instead of looping"
                )
            try:
                response = await self._timed_send(spec)
            except CollectorTimeoutError:
                self.stop_reason = StopReason.TIME_BUDGET
                return
            except HTTPStatusError as exc:
                if not (may_expire and self._expired(exc)):
                    raise
                state = self._fall_back(state, exc)
                may_expire = False
                seen.clear()
                continue
            may_expire = False
            page = self._page(state, spec, response)
            pages_done += 1
            state = page.state
            if page.stop_reason is not None:
                self.stop_reason = page.stop_reason
            yield page
            if page.stop_reason is not None or (
                self._inc is not None and not self._inc.walking(state)
            ):
                return

    def _stop_before_request(self, pages_done: int, max_pages: int | None) -> StopReason | None:
        if self._quota.exhausted:
            return StopReason.LIMIT_REACHED
        if max_pages is not None and pages_done >= max_pages:
            return StopReason.MAX_PAGES
        if not self._budget.allows_request():
            return StopReason.TIME_BUDGET
        return None

    async def _timed_send(self, spec: RequestSpec) -> Any:
        started = self._clock.monotonic()
        try:
            return await self._send(spec, self._budget.request_deadline)
        finally:
            self._budget.observe(self._clock.monotonic() - started)

    def _expired(self, exc: HTTPStatusError) -> bool:
        return exc.status_code in self.request.pagination.expired_cursor_statuses

    def _fall_back(self, state: CollectorState, exc: HTTPStatusError) -> CollectorState:
        """The state to go on from when the API rejects the saved cursor/link: the watermark's
        window again, or without one a fresh walk (the sinks' keys absorb what it repeats)."""
        self._metrics.cursor_resets += 1
        if self._inc is None:
            self._log.warning(
                "saved position rejected; no incremental watermark, walking the feed afresh",
                mode=self.request.pagination.mode,
                status=exc.status_code,
            )
            return state.reset_position().replace(has_more=False)
        self._log.info(
            "saved position rejected; restarting from the watermark",
            mode=self.request.pagination.mode,
            status=exc.status_code,
        )
        return self._inc.restart_window(state)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), tz=UTC)

    # --- one response --------------------------------------------------------------------------

    def _page(self, state: CollectorState, spec: RequestSpec, response: Any) -> WalkedPage:
        state = self._extend_open_window(state)
        number = self._metrics.pages + 1
        decoded = None if self._raw is None else self._raw.decode(response.content)
        if decoded is not None:  # pass-through: the records as the bytes the API sent
            body, records = decoded
        else:
            body = response.json()
            try:
                records = self.request.records_of(body)
            except ResponseDecodeError as exc:
                self.check.explain_records(exc, body, number)
                raise
        # the checks of a page without records look at the whole body
        unread = self.check.records(response.json() if not records else body, records, number)
        self._metrics.success += 1
        self._metrics.pages += 1
        if unread:  # the records are elsewhere in the body: stop here, not past them
            return WalkedPage([], state, StopReason.SELF_CHECK, None)
        keys, by_field = self._new_keys.page_keys(records) if records else (set(), False)
        progress = PageProgress(state, records, unique_ids=by_field and len(keys) == len(records))
        events, ends, consumed = self._take(state, records, progress)
        self._quota.take(len(events))
        self._metrics.records += len(events)
        self._report_beyond(state, events)
        if consumed < len(records):
            new_state = self._partial(state, progress, ends, events, len(events))
            stop: StopReason | None = StopReason.LIMIT_REACHED
        else:
            view = PageResponse(
                request=spec,
                url=str(response.url),
                body=body,
                headers=response.headers,
                record_count=len(records),
            )
            try:
                advance = self._paginator.advance(state, view)
            except PaginationError as exc:
                self.check.explain_paging(exc, response.json(), number)
                raise
            if decoded is not None and advance.stop_reason is StopReason.NO_NEXT:
                view = replace(view, body=response.json())  # the check reads the whole body
            # a walk the configuration cut short is not complete: its window stays open
            suspect = self.check.advance(view, advance.stop_reason, number)
            stop = StopReason.SELF_CHECK if suspect else advance.stop_reason
            new_state = progress.state_after(advance.state, len(records))
            stop = self._new_keys.after_page(records, self._empty_run(len(records), stop), keys)
            if self._inc is not None:
                new_state = self._inc.delivered(new_state, events)
                new_state, stop = self._maybe_close_window(new_state, stop)
            if stop is None and self._quota.exhausted:
                stop = StopReason.LIMIT_REACHED
        self._log.debug(
            "page", records=len(events), received=len(records), stop_reason=stop and stop.value
        )
        partial = self._partial_factory(state, progress, ends, events)
        return WalkedPage(events, new_state, stop, partial)

    def _take(
        self, state: CollectorState, records: list[Record], progress: PageProgress
    ) -> tuple[list[Record], list[int] | None, int]:
        """The records to hand out (not delivered by an earlier run, not repeated within the
        page, not boundary duplicates, within the quota), the raw index just after each
        (``None``: consecutive from the first), and how far into ``records`` the page was
        consumed."""
        room = self._quota.remaining
        if self._inc is None and not progress.resumed and not progress.may_repeat:
            stop = len(records) if room is None else min(len(records), max(room, 0))
            return (records if stop == len(records) else records[:stop]), None, stop
        events: list[Record] = []
        ends: list[int] = []
        for index, record in enumerate(records):
            if room is not None and len(events) >= room:
                return events, ends, ends[-1] if ends else 0
            if (
                progress.delivered(index)
                or progress.repeated(index)
                or (self._inc is not None and not self._inc.admits(state, record))
            ):
                continue
            events.append(record)
            ends.append(index + 1)
        return events, ends, len(records)

    def _maybe_close_window(
        self, state: CollectorState, stop: StopReason | None
    ) -> tuple[CollectorState, StopReason | None]:
        """Close the window when its walk ended; go on to the next one unless caught up."""
        if stop is None or not stop.exhausted or self._inc is None:
            return state, stop
        bounded = self._bounded
        closed = self._inc.close_window(state, bounded=bounded)
        if not bounded or self._inc.open_window(closed, self._now()) is None:
            # an open-ended request already returned everything the API had: caught up
            return closed.replace(window_start=None), stop
        return closed, None

    @property
    def _bounded(self) -> bool:
        """Whether a walked window holds nothing after its end: the request sends the end, or
        the records are filtered by time here."""
        inc = self._inc
        if inc is not None and inc.sequence:
            return False  # an integer walk is caught up when it ends
        return self.request.sends_window_end or (inc is not None and inc.filter == "client")

    def _empty_run(self, received: int, stop: StopReason | None) -> StopReason | None:
        """``EMPTY_PAGES`` on the second empty page in a row that still points on; else ``stop``."""
        empty_again = received == 0 and self._empty_before
        self._empty_before = received == 0
        return StopReason.EMPTY_PAGES if stop is None and empty_again else stop

    def _extend_open_window(self, state: CollectorState) -> CollectorState:
        """An open-ended window's end only limits how far the watermark may move: it is the
        collector's now (minus ``end_lag``) when a page arrives, not when the window opened, so
        a record created while the run goes on is not taken for a future-dated one (and is not
        fetched again by the next run)."""
        inc = self._inc
        if inc is None or inc.sequence or state.window_end is None or self._bounded:
            return state
        limit = self._now() - timedelta(seconds=inc.end_lag)
        return state.replace(window_end=limit) if limit > state.window_end else state

    def _report_beyond(self, state: CollectorState, events: list[Record]) -> None:
        """Count and log the records dated after the window end (open-ended: after now)."""
        if self._inc is None or state.window_end is None:
            return
        limit = state.window_end if self._bounded else self._now()
        for record_id, instant in self._inc.beyond(events, limit):
            self._metrics.records_beyond_window += 1
            self._log.warning(
                "record dated after the window end; the watermark stops at the window end",
                record_id=record_id,
                timestamp=_iso(instant),
                window_end=_iso(state.window_end),
            )

    def _partial(
        self,
        state: CollectorState,
        progress: PageProgress,
        ends: list[int] | None,
        events: list[Record],
        count: int,
    ) -> CollectorState:
        """The state after the first ``count`` of ``events``: this page asked for again, with
        the records delivered from it named (or, for offsets, the offset moved past them)."""
        raw = ends[count - 1] if ends is not None and count else count
        position = state  # nothing of this fetch taken: what was known stays known
        if raw > 0:
            moved: CollectorState = self._paginator.partial(state.replace(skip=0), raw)
            position = progress.state_after(moved, raw)
        partial = position.replace(has_more=True)
        if self._inc is not None:
            partial = self._inc.delivered(partial, events[:count])
        return partial

    def _partial_factory(
        self,
        state: CollectorState,
        progress: PageProgress,
        ends: list[int] | None,
        events: list[Record],
    ) -> Callable[[int], CollectorState]:
        def partial(count: int) -> CollectorState:
            return self._partial(state, progress, ends, events, count)

        return partial


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")
