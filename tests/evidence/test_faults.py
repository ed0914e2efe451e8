"""The fault matrix: the daemon's jobs (``collectorkit once`` in-process, with the real HTTP
client, policies, pipeline, SQLite sink and state) against the simulator with each fault the
outside world produces. Each case ends with every record delivered exactly once — compared with
the simulator's ledger — and with the metrics the fault should leave behind.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from collectorkit.simulator import FaultSpec, SimulatorServer, build_config
from tests.evidence._runs import once, sqlite_config
from tests.evidence._support import generic_source, stored_ids, timed_simulator

RECORDS = 200
RETRY = {"max_attempts": 6, "initial_delay": 0.02, "max_delay": 0.2, "jitter": False}


def _assert_exactly_once(sim: SimulatorServer, profile: str, db: Path, source: str) -> None:
    stored = Counter(stored_ids("sqlite", db, source))
    assert [k for k, n in stored.items() if n > 1] == []
    comparison = sim.ledger.compare(profile, stored)
    assert comparison.ok, (sorted(comparison.lost)[:5], sorted(comparison.unexpected)[:5])
    assert set(stored) == sim.ledger.existing(profile), "not every record was delivered"


def _generic(sim: SimulatorServer, **extra: Any) -> dict[str, Any]:
    src = generic_source("events", sim.url("generic"), token=sim.credentials("generic")["token"])
    return {**src, "retry": RETRY, **extra}


@pytest.mark.parametrize(
    ("fault", "injected", "retries"),
    [
        pytest.param(
            {"kind": "server_error", "requests": "2-5", "status": 502}, 4, 4, id="5xx-burst"
        ),
        pytest.param({"kind": "server_error", "every": 2, "status": 500}, 3, 3, id="5xx-every-2"),
        # a reset on a reused keep-alive connection is retried once by the transport itself, so
        # two resets in a row cost one policy retry: at least one retry shows in the metrics
        pytest.param({"kind": "reset", "requests": "2,3,5"}, 3, 1, id="conn-reset"),
    ],
)
async def test_transient_faults_are_retried_to_exactly_once(
    fault: dict[str, Any], injected: int, retries: int, tmp_path: Path
) -> None:
    cfg = build_config(seed=3, profiles=["generic"], records=RECORDS, faults=[fault])
    with timed_simulator(cfg) as (sim, _):
        results = await once(sqlite_config(tmp_path, [_generic(sim)]))
        stats = results["events"].stats
        assert results["events"].ok, results["events"].error
        _assert_exactly_once(sim, "generic", tmp_path / "ck.db", "events")
        snapshot = sim.stats.snapshot()
    assert snapshot["faults"] == {fault["kind"]: injected}
    assert snapshot["requests"]["generic.events"] == stats.pages + injected
    assert stats.retries >= retries
    assert stats.records == RECORDS
    assert not stats.errors


async def test_429_storm_is_never_retried_before_retry_after(tmp_path: Path) -> None:
    storm = FaultSpec(kind="rate_limit", target="generic", requests="2-4", retry_after=1)
    cfg = build_config(seed=4, profiles=["generic"], records=RECORDS, faults=[storm])
    with timed_simulator(cfg) as (sim, log):
        results = await once(sqlite_config(tmp_path, [_generic(sim)]))
        _assert_exactly_once(sim, "generic", tmp_path / "ck.db", "events")
        seen = log.for_path("/v1/events")
    stats = results["events"].stats
    assert stats.http_429 == 3
    assert [e.status for e in seen[:5]] == [200, 429, 429, 429, 200]
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen) if a.status == 429]
    assert len(gaps) == 3
    assert min(gaps) >= 1.0, f"retried earlier than Retry-After: {gaps}"


async def test_read_timeouts_are_retried(tmp_path: Path) -> None:
    slow = FaultSpec(kind="slow", target="generic", requests="2,4", delay=0.6)
    cfg = build_config(seed=5, profiles=["generic"], records=RECORDS, faults=[slow])
    with timed_simulator(cfg) as (sim, _):
        source = _generic(sim, timeout={"connect": 2, "read": 0.25})
        results = await once(sqlite_config(tmp_path, [source]))
        assert results["events"].ok, results["events"].error
        _assert_exactly_once(sim, "generic", tmp_path / "ck.db", "events")
    assert results["events"].stats.retries >= 2


async def test_malformed_page_is_retried_or_resumed_without_loss(tmp_path: Path) -> None:
    bad = FaultSpec(kind="malformed", target="generic", requests="3")
    cfg = build_config(seed=6, profiles=["generic"], records=RECORDS, faults=[bad])
    with timed_simulator(cfg) as (sim, _):
        config = sqlite_config(tmp_path, [_generic(sim)])
        first = (await once(config))["events"]
        if not first.ok:  # a non-retryable parse error: state stays at the last good page
            assert first.stats.errors, "a failed run must count its error"
            second = (await once(config))["events"]
            assert second.ok, second.error
        _assert_exactly_once(sim, "generic", tmp_path / "ck.db", "events")


async def test_expired_cursor_falls_back_to_the_watermark(tmp_path: Path) -> None:
    """A cursor expiring mid-walk fails that run with the 410 named, state kept at the last good
    page; the next run's resumed cursor is expired too and falls back to the watermark."""
    expired = FaultSpec(kind="expired_cursor", target="generic", requests="3-4")
    cfg = build_config(seed=7, profiles=["generic"], records=RECORDS, faults=[expired])
    with timed_simulator(cfg) as (sim, log):
        config = sqlite_config(tmp_path, [_generic(sim)])
        first = (await once(config))["events"]
        assert not first.ok
        assert "410" in str(first.error)
        assert first.stats.records == 150  # the pages before the third cursor request
        second = (await once(config))["events"]
        assert second.ok, second.error
        _assert_exactly_once(sim, "generic", tmp_path / "ck.db", "events")
        statuses = [e.status for e in log.for_path("/v1/events")]
    assert statuses.count(410) == 2
    assert second.stats.records == RECORDS - 150


async def test_oauth_token_expiring_mid_run_is_refreshed(tmp_path: Path) -> None:
    expiry = FaultSpec(kind="token_expiry", target="graph", requests="3,6")
    cfg = build_config(seed=8, profiles=["graph"], records=RECORDS, faults=[expiry])
    with timed_simulator(cfg) as (sim, log):
        creds = sim.credentials("graph")
        source = {
            "name": "graph_alerts",
            "base_url": sim.url("graph"),
            "auth": {
                "type": "oauth2",
                "token_url": creds["token_url"],
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "scope": creds["scope"],
                "auth_method": "client_secret_post",
            },
            "retry": RETRY,
            "request": {
                "endpoint": "/v1.0/security/alerts_v2",
                "params": {"$top": 40},
                "data_path": "value",
                "pagination": {"mode": "link", "link_path": '"@odata.nextLink"'},
            },
        }
        results = await once(sqlite_config(tmp_path, [source]))
        assert results["graph_alerts"].ok, results["graph_alerts"].error
        _assert_exactly_once(sim, "graph", tmp_path / "ck.db", "graph_alerts")
        tokens = [e for e in log.entries if e.path.endswith("/token")]
        unauthorized = [e for e in log.for_path("/alerts_v2") if e.status == 401]
    assert len(unauthorized) == 2
    assert len(tokens) == 3  # the first token and one refresh per expiry


async def test_collector_clock_jumps_back_and_forward_without_loss_or_duplicates(
    tmp_path: Path,
) -> None:
    """The collector host's wall clock is stepped back two hours (NTP correction), then ahead
    one hour: a run with the clock behind the watermark collects nothing and moves nothing
    backwards; once the clock is ahead again every record is delivered, once."""
    import dataclasses
    import time

    from collectorkit import FakeClock
    from collectorkit.cli._once import run_jobs_once
    from collectorkit.collect import CollectorClient, CollectorState
    from collectorkit.config import load_config
    from collectorkit.daemon import RuntimeMetrics, build_runtime
    from collectorkit.delivery import read_checkpoint

    cfg = build_config(seed=9, profiles=["generic"], records=RECORDS)
    with timed_simulator(cfg) as (sim, _):
        config = load_config(sqlite_config(tmp_path, [_generic(sim)]))
        clock = FakeClock(start=time.time())
        runtime = await build_runtime(config)
        try:
            (job,) = runtime.jobs
            old = job.client  # type: ignore[union-attr]
            job.client = CollectorClient(dataclasses.replace(old.blueprint, clock=clock))  # type: ignore[union-attr]
            await old.aclose()

            async def run() -> Any:
                (result,) = await run_jobs_once(runtime.jobs, RuntimeMetrics(started_at=0))
                assert result.ok, result.error
                return result.stats

            async def saved_watermark() -> Any:
                saved = await read_checkpoint(runtime.store, job.name)
                return CollectorState.from_dict(saved).watermark

            first = await run()
            watermark = await saved_watermark()
            sim.add_records("generic", 30)
            clock.jump_wall(-7200)  # stepped back: now is before the watermark
            behind = await run()
            assert await saved_watermark() == watermark
            clock.jump_wall(time.time() + 3600 - clock.time())  # stepped ahead
            ahead = await run()
        finally:
            await runtime.aclose()
        _assert_exactly_once(sim, "generic", tmp_path / "ck.db", "events")
    assert (first.records, behind.records, ahead.records) == (RECORDS, 0, 30)


async def test_503_burst_without_retry_after_uses_the_configured_backoff(tmp_path: Path) -> None:
    """A 503 without Retry-After, whose X-RateLimit-Remaining says quota is left, is retried
    after the configured backoff — not held until X-RateLimit-Reset (up to a minute), as it
    was before http's ``server_pause`` (found by this suite)."""
    import asyncio

    burst = FaultSpec(kind="server_error", target="generic", requests="2-3", status=503)
    cfg = build_config(seed=10, profiles=["generic"], records=RECORDS, faults=[burst])
    with timed_simulator(cfg) as (sim, _):
        results = await asyncio.wait_for(once(sqlite_config(tmp_path, [_generic(sim)])), 8)
        _assert_exactly_once(sim, "generic", tmp_path / "ck.db", "events")
    assert results["events"].stats.retries == 2


async def test_collector_clock_ahead_of_the_api_loses_nothing(tmp_path: Path) -> None:
    """Clock skew: the collector host runs 5 s ahead of the API. Records the API creates after
    the first run are newer than every delivered record, so the next run fetches them."""
    import dataclasses
    import time

    from collectorkit import FakeClock
    from collectorkit.cli._once import run_jobs_once
    from collectorkit.collect import CollectorClient
    from collectorkit.config import load_config
    from collectorkit.daemon import RuntimeMetrics, build_runtime

    cfg = build_config(seed=14, profiles=["generic"], records=RECORDS)
    with timed_simulator(cfg) as (sim, _):
        config = load_config(sqlite_config(tmp_path, [_generic(sim)]))
        clock = FakeClock(start=time.time() + 5)  # the collector's clock runs 5 s ahead
        runtime = await build_runtime(config)
        try:
            (job,) = runtime.jobs
            old = job.client  # type: ignore[union-attr]
            job.client = CollectorClient(dataclasses.replace(old.blueprint, clock=clock))  # type: ignore[union-attr]
            await old.aclose()
            metrics = RuntimeMetrics(started_at=0)
            (first,) = await run_jobs_once(runtime.jobs, metrics)
            after_first = first.stats.records  # the stats are cumulative per source
            sim.add_records("generic", 10)
            clock.advance(1.0)
            (second,) = await run_jobs_once(runtime.jobs, metrics)
        finally:
            await runtime.aclose()
        assert first.ok, first.error
        assert second.ok, second.error
        _assert_exactly_once(sim, "generic", tmp_path / "ck.db", "events")
    assert (after_first, second.stats.records) == (RECORDS, RECORDS + 10)
