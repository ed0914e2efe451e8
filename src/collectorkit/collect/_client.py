"""``CollectorClient``: a blueprint brought to life on an :class:`~collectorkit.APIClient`."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import CollectorError, CollectorTimeoutError
from collectorkit._lifecycle import SyncClosable
from collectorkit._records import Record
from collectorkit._sync import run_sync
from collectorkit.collect._blueprint import CollectorBlueprint
from collectorkit.collect._budget import Budget, Quota
from collectorkit.collect._metrics import ExecutionMetrics
from collectorkit.collect._page import CollectionResult
from collectorkit.collect._raw import RawPages
from collectorkit.collect._selfcheck import SelfCheck
from collectorkit.collect._spec import RequestSpec, StopReason
from collectorkit.collect._state import CollectorState
from collectorkit.collect._strategies import CollectionStrategy, CollectorExecutor, resolve_strategy
from collectorkit.collect._stream import PageStream
from collectorkit.collect._walk import FeedWalker
from collectorkit.http import APIClient, get_logger

__all__ = ["CollectorClient"]


class CollectorClient(SyncClosable):
    """Collects events as its :class:`CollectorBlueprint` describes.

    :meth:`iter_pages` is the one page loop; :meth:`collect_events` runs a strategy over it and
    :meth:`collect_events_sync` runs that from synchronous code. The underlying
    :class:`~collectorkit.APIClient` (rate limit, retries, breaker, auth) is created on first use
    and lives as long as this client: every shard and every collection, async or sync, shares its
    rate limiter and circuit breaker. :meth:`aclose` (``async with``; ``close()`` or ``with``
    from sync code) closes its connections only; they reopen on the next use. A sync call closes
    the connections it opened (they belong to its event loop), so one client serves many sync
    calls.
    """

    def __init__(
        self,
        blueprint: CollectorBlueprint,
        *,
        api_client: APIClient | None = None,
        executor: CollectorExecutor | None = None,
    ) -> None:
        self.blueprint = blueprint
        self.executor = executor
        self.clock: Clock = blueprint.clock or SystemClock()
        self._api = api_client
        self._owns_api = api_client is None
        self.logger = get_logger(
            "collectorkit.collect", diagnostic=blueprint.diagnostic_mode, collector=blueprint.name
        )

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def api(self) -> APIClient:
        """The HTTP client every request goes through (created on first use)."""
        if self._api is None:
            bp = self.blueprint
            self._api = APIClient(  # a policy left None keeps the client's default
                bp.client_config,
                base_url=bp.base_url,
                auth=bp.auth_handler,
                retry=bp.retry_policy,
                rate_limit=bp.rate_limit,
                circuit_breaker=bp.circuit_breaker,
                timeout=bp.timeout,
                transport=bp.transport,
                headers=dict(bp.headers),
                clock=self.clock,
                allowed_hosts=bp.allowed_hosts,
                diagnostic_mode=bp.diagnostic_mode,
                name=bp.name,
            )
        return self._api

    async def aclose(self) -> None:
        """Close the connections of the API client this collector created (the client itself,
        with its rate limiter and breaker state, is kept for the next collection)."""
        if self._owns_api and self._api is not None:
            await self._api.aclose()

    # --- state in a context --------------------------------------------------------------------

    def load_state(
        self, context: Mapping[str, Any] | None, state_key: str | None = None
    ) -> CollectorState | None:
        """The state kept in ``context`` under ``collector_client[name][state_key]``."""
        key = state_key or self.blueprint.request.state_key
        return CollectorState.from_context(context, self.blueprint.name, key)

    def save_state(
        self,
        context: MutableMapping[str, Any],
        state: CollectorState,
        state_key: str | None = None,
    ) -> MutableMapping[str, Any]:
        key = state_key or self.blueprint.request.state_key
        return state.to_context(context, self.blueprint.name, key)

    # --- the page loop -------------------------------------------------------------------------

    def iter_pages(
        self,
        *,
        limit: int | None = None,
        resume_state: CollectorState | None = None,
        concurrency: int = 1,
        raw_keys: Sequence[str] | None = None,
        raw_fields: Sequence[str] = (),
    ) -> PageStream:
        """Pages as they arrive, each with the state to save once its records are delivered.

        ``limit`` caps the records handed out (the state then resumes right after the last
        one, even mid-page). With ``request.shards`` every shard is walked (``concurrency`` at
        once) and states are kept per shard in ``state.shards``. The returned
        :class:`~collectorkit.collect.PageStream` tells ``stop_reason``, ``state`` and
        ``metrics`` once it ends.

        ``raw_keys`` (the key fields, dotted paths) turns on pass-through: the records come as
        :class:`~collectorkit.RawRecord` — the JSON bytes the API sent, read as a mapping of
        only the key fields, ``raw_fields`` and the request's incremental fields — wherever a
        record has every key field (others are decoded whole). :class:`ValueError` says why
        when the request cannot be read that way (see ``collect.raw_refusals``).
        """
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
        root = resume_state or CollectorState()
        metrics = ExecutionMetrics()
        budget = Budget(
            self.clock, self.blueprint.execution_budget, min_margin=self.blueprint.time_margin
        )
        quota = Quota(limit)
        request = self.blueprint.request
        shards: list[Any] = list(request.shards) or [None]
        check = SelfCheck(request, self.logger)
        raw = None if raw_keys is None else RawPages(request, raw_keys, raw_fields)
        walkers = [
            FeedWalker(
                request=request,
                shard=shard,
                state=root.shards.get(shard.state_key, CollectorState()) if shard else root,
                send=self._send,
                clock=self.clock,
                budget=budget,
                quota=quota,
                metrics=metrics,
                logger=self.logger,
                check=check,
                raw=raw,
            )
            for shard in shards
        ]
        before = dict(self._api.metrics.snapshot()) if self._api is not None else {}

        def finish(done: ExecutionMetrics) -> None:
            if self._api is not None:
                done.add_client_delta(before, self._api.metrics.snapshot())

        return PageStream(
            walkers=walkers,
            sharded=bool(request.shards),
            concurrency=max(1, concurrency),
            root=root,
            finish=finish,
            metrics=metrics,
        )

    async def _send(self, spec: RequestSpec, deadline: float | None) -> Any:
        return await self.api.request(
            spec.method,
            spec.url,
            params=spec.params or None,
            json=spec.json,
            headers=dict(spec.headers) or None,
            deadline=deadline,
        )

    # --- whole collections ---------------------------------------------------------------------

    async def collect_events(
        self,
        limit: int | None = None,
        strategy: str | CollectionStrategy | None = None,
        resume_state: CollectorState | None = None,
        *,
        raise_on_timeout: bool | None = None,
    ) -> CollectionResult:
        """Collect up to ``limit`` records with ``strategy`` (default: the blueprint's).

        Returns the records (those the strategy keeps), the state to save, metrics and why it
        stopped. When the time budget runs out the partial result is returned — or raised as
        :class:`CollectorTimeoutError` with ``raise_on_timeout`` (default: the blueprint's).
        Any other failure raises a :class:`CollectorError` whose ``partial_result`` holds what
        was collected and the state that resumes after it.
        """
        chosen = resolve_strategy(strategy or self.blueprint.default_strategy)
        concurrency = self.blueprint.concurrency if chosen.concurrent else 1
        stream = self.iter_pages(limit=limit, resume_state=resume_state, concurrency=concurrency)
        executor = self.executor or CollectorExecutor()
        events: list[Record] = []
        started = self.clock.monotonic()
        try:
            await chosen.run(stream, executor, events)
        except CollectorError as exc:
            await stream.aclose()
            exc.partial_result = self._result(stream, events, executor, started)
            raise
        finally:
            await stream.aclose()
        result = self._result(stream, events, executor, started)
        self.logger.debug(
            "collection finished",
            records=result.metrics.records,
            pages=result.pages,
            stop_reason=result.stop_reason and result.stop_reason.value,
        )
        strict = self.blueprint.raise_on_timeout if raise_on_timeout is None else raise_on_timeout
        if strict and result.stop_reason is StopReason.TIME_BUDGET:
            raise CollectorTimeoutError(
                f"{self.blueprint.name}: the execution budget ran out after "
                f"{len(result.events)} records; the partial result carries them and the state",
                partial_result=result,
            )
        return result

    def collect_events_sync(
        self,
        limit: int | None = None,
        strategy: str | CollectionStrategy | None = None,
        resume_state: CollectorState | None = None,
        *,
        raise_on_timeout: bool | None = None,
    ) -> CollectionResult:
        """:meth:`collect_events` for synchronous callers (not inside a running event loop)."""

        async def once() -> CollectionResult:
            try:
                return await self.collect_events(
                    limit, strategy, resume_state, raise_on_timeout=raise_on_timeout
                )
            finally:
                await self.aclose()

        return run_sync(once(), async_name="CollectorClient.collect_events")

    def _result(
        self,
        stream: PageStream,
        events: list[Record],
        executor: CollectorExecutor,
        started: float,
    ) -> CollectionResult:
        events.extend(executor.take_collected())
        return CollectionResult(
            events=events,
            state=stream.state,
            metrics=stream.metrics,
            stop_reason=stream.stop_reason,
            pages=stream.metrics.pages,
            elapsed=self.clock.monotonic() - started,
            findings=stream.findings,
        )
