"""``CollectorClient.iter_pages``: pages from one feed, or from its shards in turn or at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from collectorkit._errors import CollectorError
from collectorkit.collect._metrics import ExecutionMetrics
from collectorkit.collect._page import CollectionResult, Page
from collectorkit.collect._selfcheck import Finding
from collectorkit.collect._spec import StopReason
from collectorkit.collect._state import CollectorState
from collectorkit.collect._walk import FeedWalker, WalkedPage

__all__ = ["PageStream", "combine_stop_reasons"]

_PRIORITY = (StopReason.TIME_BUDGET, StopReason.LIMIT_REACHED, StopReason.MAX_PAGES)


def combine_stop_reasons(reasons: list[StopReason | None]) -> StopReason | None:
    """One reason for several shards: an incomplete one wins, else the last shard's."""
    for reason in _PRIORITY:
        if reason in reasons:
            return reason
    known = [r for r in reasons if r is not None]
    return known[-1] if known else None


class PageStream:
    """An async iterator of :class:`Page`; once it ends, ``stop_reason``, ``state``, ``metrics``
    and ``complete`` describe the run.

    ``state`` is always the state of the last page handed out (the state to save once that
    page is delivered). A failure is raised from the iteration as a :class:`CollectorError`
    whose ``partial_result`` holds that state and the metrics. Call :meth:`aclose` (or use
    ``async with``) when stopping early.
    """

    def __init__(
        self,
        *,
        walkers: list[FeedWalker],
        sharded: bool,
        concurrency: int,
        root: CollectorState,
        finish: Callable[[ExecutionMetrics], None],
        metrics: ExecutionMetrics,
    ) -> None:
        self._walkers = walkers
        self._sharded = sharded
        self._concurrency = concurrency
        self._finish = finish
        self.metrics = metrics
        self.state = root
        self.stop_reason: StopReason | None = None
        self.error: BaseException | None = None
        self._number = 0
        self._finished = False
        self._gen = self._run()

    @property
    def complete(self) -> bool:
        return self.stop_reason is not None and self.stop_reason.exhausted

    @property
    def findings(self) -> list[Finding]:
        """What the pages' self-checks found so far (each check once)."""
        found: dict[str, Finding] = {}
        for walker in self._walkers:
            for finding in walker.check.findings:
                found.setdefault(finding.check, finding)
        return list(found.values())

    def __aiter__(self) -> AsyncIterator[Page]:
        return self

    async def __anext__(self) -> Page:
        try:
            return await self._gen.__anext__()
        except StopAsyncIteration:
            self._end()
            raise
        except CollectorError as exc:
            self._fail(exc)
            if exc.partial_result is None:
                exc.partial_result = self.partial_result()
            raise
        except Exception as exc:
            self._fail(exc)
            raise

    async def aclose(self) -> None:
        await self._gen.aclose()
        self._end()

    async def __aenter__(self) -> PageStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def partial_result(self) -> CollectionResult:
        return CollectionResult(
            state=self.state,
            metrics=self.metrics,
            stop_reason=self.stop_reason,
            pages=self._number,
            findings=self.findings,
        )

    def _end(self) -> None:
        if not self._finished:
            self._finished = True
            self.stop_reason = combine_stop_reasons([w.stop_reason for w in self._walkers])
            self._finish(self.metrics)

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self.metrics.count_failure(exc)
        self._end()

    # --- producing pages -----------------------------------------------------------------------

    async def _run(self) -> AsyncGenerator[Page, None]:
        if self._concurrency > 1 and len(self._walkers) > 1:
            async for page in self._run_concurrently():
                yield page
            return
        for walker in self._walkers:
            async for walked in walker.pages():
                yield self._emit(walker, walked)
            if walker.stop_reason in _PRIORITY:
                return

    async def _run_concurrently(self) -> AsyncGenerator[Page, None]:
        queue: asyncio.Queue[tuple[FeedWalker, WalkedPage | None, BaseException | None]]
        queue = asyncio.Queue(maxsize=self._concurrency)
        gate = asyncio.Semaphore(self._concurrency)

        async def drive(walker: FeedWalker) -> None:
            async with gate:
                try:
                    async for walked in walker.pages():
                        await queue.put((walker, walked, None))
                except Exception as exc:
                    await queue.put((walker, None, exc))
                    return
                await queue.put((walker, None, None))

        tasks = [asyncio.create_task(drive(w)) for w in self._walkers]
        errors: list[BaseException] = []
        try:
            for _ in range(len(tasks)):
                while True:
                    walker, walked, error = await queue.get()
                    if walked is None:
                        if error is not None:
                            errors.append(error)
                        break
                    yield self._emit(walker, walked)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if errors:
            raise errors[0]

    def _emit(self, walker: FeedWalker, walked: WalkedPage) -> Page:
        self._number += 1
        key = walker.shard.state_key if walker.shard is not None else None
        state = self._compose(key, walked.state)
        self.state = state
        partial = walked.partial
        compose: Callable[[int], CollectorState] | None = None
        if partial is not None:

            def compose(count: int, _p: Any = partial, _k: str | None = key) -> CollectorState:
                return self._compose(_k, _p(count), base=state)

        return Page(
            number=self._number,
            events=walked.events,
            state=state,
            stop_reason=self._page_stop(walked.stop_reason),
            shard=key,
            _partial=compose,
        )

    def _page_stop(self, reason: StopReason | None) -> StopReason | None:
        """A page's stop reason, when that page ends the run: one shard's end does not."""
        if not self._sharded or reason in _PRIORITY:
            return reason
        return None

    def _compose(
        self, key: str | None, shard_state: CollectorState, base: CollectorState | None = None
    ) -> CollectorState:
        if not self._sharded or key is None:
            return shard_state
        root = base or self.state
        return root.replace(shards={**root.shards, key: shard_state})
