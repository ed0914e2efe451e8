"""One source run against the simulator with faults: every served record stored once,
state checkpointed, processed ids and callbacks for new records only."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from collectorkit import FakeClock
from collectorkit.collect import (
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    IncrementalConfig,
    PaginationConfig,
)
from collectorkit.daemon._job import CollectorJob, DevModeJob
from collectorkit.daemon._metrics import SourceStats
from collectorkit.daemon._schedule import Schedule
from collectorkit.daemon._scheduler import RunContext
from collectorkit.delivery._processed import PersistentProcessedIds
from collectorkit.http import BearerTokenAuthHandler, RetryPolicy
from collectorkit.simulator import FaultSpec, SimulatorServer, build_config
from collectorkit.sinks import SQLiteSink
from collectorkit.state import open_state_store
from collectorkit.typing import StateStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=time.time())


@pytest.fixture
def sim(clock: FakeClock) -> Any:
    faults = [
        FaultSpec(kind="rate_limit", target="generic", every=4, retry_after=0),
        FaultSpec(kind="reset", target="generic", requests=(6,)),
    ]
    config = build_config(seed=3, profiles=["generic"], records=230, faults=faults)
    with SimulatorServer(dataclasses.replace(config, clock=clock)) as s:
        yield s


def _blueprint(sim: Any) -> CollectorBlueprint:
    return CollectorBlueprint(
        clock=sim.simulator.config.clock,
        name="events",
        base_url=sim.url("generic"),
        request=CollectorRequest(
            endpoint="/v1/events",
            params={"limit": 50},
            data_path="data.events",
            pagination=PaginationConfig(
                mode="cursor", cursor_param="cursor", next_cursor_path="meta.next_cursor"
            ),
            incremental=IncrementalConfig(timestamp_field="created_at", start_param="since"),
        ),
        auth_handler=BearerTokenAuthHandler(token=sim.credentials("generic")["token"]),
        retry_policy=RetryPolicy(max_attempts=5, initial_delay=0.01, max_delay=0.05),
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[StateStore]:
    s = await open_state_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield s
    await s.aclose()


def _stored_ids(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT data FROM events").fetchall()
    return [json.loads(r[0])["id"] for r in rows]


async def test_a_run_stores_every_served_record_once_and_callbacks_see_new_ones(
    sim: Any, store: StateStore, tmp_path: Path
) -> None:
    db = tmp_path / "db.sqlite"
    sink = SQLiteSink(db)
    await sink.connect()
    seen: list[str] = []

    class Recorder:
        label = "recorder"

        async def __call__(self, source: str, alerts: Sequence[Mapping[str, Any]]) -> None:
            seen.extend(a["id"] for a in alerts)

    client = CollectorClient(_blueprint(sim))
    job = CollectorJob(
        name="events",
        schedule=Schedule(interval=60),
        client=client,
        sinks=[sink],
        state_store=store,
        processed=PersistentProcessedIds(store, "events", capacity=1000),
        callbacks=[Recorder()],
    )
    stats = SourceStats(name="events")
    try:
        outcome = await job.run(RunContext(stats=stats, clock=FakeClock()))
        served = sim.ledger.served_ids("generic")
        assert len(served) == 230
        assert sorted(_stored_ids(db)) == sorted(served)
        assert sorted(seen) == sorted(served)
        assert outcome.records == stats.records == 230
        assert stats.http_429 >= 1
        assert stats.retries >= stats.http_429
        assert stats.watermark is not None
        checkpoint = await store.get("collector_state", "events")
        assert checkpoint is not None
        assert checkpoint.value["watermark"] is not None
        watermark = await store.get("watermarks", "events")
        assert watermark is not None
        assert watermark.value["status"] == "success"
        # a second run continues from the watermark: new records only, callbacks only for them
        sim.add_records("generic", 7)
        sim.simulator.config.clock.advance(5)
        seen.clear()
        await job.run(RunContext(stats=stats, clock=FakeClock()))
        ids = _stored_ids(db)
        assert len(ids) == len(set(ids)) == 237
        assert len(seen) == 7
    finally:
        await job.aclose()
        await sink.aclose()


async def test_processed_ids_make_a_restarted_job_skip_callbacks(
    sim: Any, store: StateStore, tmp_path: Path
) -> None:
    sink = SQLiteSink(tmp_path / "db.sqlite")
    await sink.connect()
    calls: list[int] = []

    class Counter:
        label = "count"

        async def __call__(self, source: str, alerts: Sequence[Mapping[str, Any]]) -> None:
            calls.append(len(alerts))

    try:
        for _ in range(2):  # the second job forgets the checkpoint but not the processed ids
            await store.delete("collector_state", "events")
            job = CollectorJob(
                name="events",
                schedule=Schedule(interval=60),
                client=CollectorClient(_blueprint(sim)),
                sinks=[sink],
                state_store=store,
                processed=PersistentProcessedIds(store, "events"),
                callbacks=[Counter()],
            )
            stats = SourceStats(name="events")
            try:
                await job.run(RunContext(stats=stats, clock=FakeClock()))
            finally:
                await job.aclose()
        assert sum(calls) == 230
        assert stats.duplicates_skipped == 230
    finally:
        await sink.aclose()


async def test_dev_mode_sends_nothing_and_says_so() -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    class Log:
        def info(self, event: str, **kw: Any) -> None:
            events.append((event, kw))

    stats = SourceStats(name="xdr")
    job = DevModeJob(name="xdr", schedule=Schedule(interval=30), log=Log())
    outcome = await job.run(RunContext(stats=stats, clock=FakeClock()))
    assert outcome.stop_reason == "dev_mode"
    assert stats.dev_mode
    assert events[0][0].startswith("development mode")


class _Feed:
    """A DataSource over a fixed list of events, resuming after ``last_event_id``."""

    def __init__(self, events: list[dict[str, Any]], last_event_id: str | None) -> None:
        start = 0 if last_event_id is None else int(last_event_id) + 1
        self._events = events[start:]
        self._last = last_event_id
        self.closed = False

    @property
    def state(self) -> dict[str, Any]:
        return {"last_event_id": self._last}

    async def collect_stream(self) -> AsyncIterator[list[dict[str, Any]]]:
        for i in range(0, len(self._events), 4):
            batch = self._events[i : i + 4]
            self._last = batch[-1]["id"]
            yield batch

    async def aclose(self) -> None:
        self.closed = True


async def test_a_stream_job_checkpoints_the_resume_token_and_resumes(
    store: StateStore, tmp_path: Path
) -> None:
    from collectorkit.daemon._job import StreamJob

    events = [{"id": str(i), "msg": f"m{i}"} for i in range(10)]
    opened: list[str | None] = []

    def make(token: str | None, stop: asyncio.Event) -> Any:
        assert not stop.is_set()
        opened.append(token)
        return _Feed(events, token)

    sink = SQLiteSink(tmp_path / "db.sqlite")
    await sink.connect()
    try:
        job = StreamJob(
            name="feed", schedule=Schedule(interval=1), make_source=make,
            sinks=[sink], state_store=store,
        )  # fmt: skip
        stats = SourceStats(name="feed")
        outcome = await job.run(RunContext(stats=stats, clock=FakeClock()))
        assert outcome.records == 10
        assert outcome.stop_reason == "stream_ended"
        saved = await store.get("collector_state", "feed")
        assert saved is not None
        assert saved.value == {"last_event_id": "9"}
        events.extend({"id": str(i), "msg": f"m{i}"} for i in range(10, 13))
        await job.run(RunContext(stats=stats, clock=FakeClock()))
        assert opened == [None, "9"]
        assert sorted(_stored_ids(tmp_path / "db.sqlite"), key=int) == [str(i) for i in range(13)]
    finally:
        await sink.aclose()


async def test_the_breaker_and_limiter_carry_over_between_runs_of_a_source(
    httpserver: Any, store: StateStore, tmp_path: Path
) -> None:
    from collectorkit import CircuitBreakerPolicy

    httpserver.expect_request("/events").respond_with_data("down", status=503)
    clock = FakeClock()
    blueprint = CollectorBlueprint(
        clock=clock,
        name="down",
        base_url=httpserver.url_for("/").rstrip("/"),
        request=CollectorRequest(endpoint="/events", data_path="data"),
        retry_policy=RetryPolicy(max_attempts=5, initial_delay=0.1, jitter=False),
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=5, recovery_timeout=600),
    )
    sink = SQLiteSink(tmp_path / "db.sqlite")
    job = CollectorJob(
        name="down",
        schedule=Schedule(interval=60),
        client=CollectorClient(blueprint),
        sinks=[sink],
        state_store=store,
    )
    stats = SourceStats(name="down")
    try:
        for _ in range(4):
            with pytest.raises(Exception):  # noqa: B017, PT011 - the run fails; the count matters
                await job.run(RunContext(stats=stats, clock=clock))
            clock.advance(60)  # the schedule's interval, well inside the recovery timeout
        assert len(httpserver.log) == 5
        assert stats.breaker_state == "open"
    finally:
        await job.aclose()
        await sink.aclose()
