"""The status server over real HTTP (uvicorn on 127.0.0.1, port 0)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from collectorkit import ConfigError, FakeClock
from collectorkit.collect import Finding
from collectorkit.daemon._metrics import RuntimeMetrics
from collectorkit.daemon._status import StatusServer, StatusSettings


def _metrics(clock: FakeClock) -> RuntimeMetrics:
    metrics = RuntimeMetrics(started_at=clock.time() - 100)
    xdr = metrics.source("xdr_alerts")
    xdr.schedule, xdr.state = "every 30s", "scheduled"
    xdr.page(clock.time() - 5, 100)
    xdr.page(clock.time() - 2, 40)
    xdr.http_429, xdr.retries = 3, 4
    xdr.watermark = clock.time() - 90
    xdr.last_success = clock.time() - 1
    xdr.stop_reasons["no_next"] += 1
    okta = metrics.source("okta")
    okta.state, okta.breaker_state = "backing_off", "open"
    okta.error(clock.time(), "service", "HTTP 503 from upstream")
    okta.runs, okta.runs_failed = 2, 2
    okta.consecutive_failures = 2
    xdr.stored, xdr.duplicates = 120, 20
    bad = metrics.source("bad_path")
    bad.state, bad.runs, bad.next_run = "scheduled", 3, clock.time() + 25
    bad.findings = [
        Finding(
            check="data_path",
            path="request.data_path",
            value="data.event",
            message="matched nothing in the response of page 1",
            candidates=("data.events",),
        ).to_dict()
    ]
    metrics.ready = True
    return metrics


@pytest.fixture
async def server() -> AsyncIterator[tuple[StatusServer, FakeClock, RuntimeMetrics]]:
    clock = FakeClock()
    metrics = _metrics(clock)
    srv = StatusServer(metrics, StatusSettings(port=0), clock=clock)
    await srv.start()
    yield srv, clock, metrics
    await srv.stop()


async def test_health_ready_status_and_metrics(
    server: tuple[StatusServer, FakeClock, RuntimeMetrics],
) -> None:
    srv, _, metrics = server
    async with httpx2.AsyncClient(base_url=srv.url) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).status_code == 200
        status = (await client.get("/status")).json()
        by_name = {s["name"]: s for s in status["sources"]}
        assert by_name["xdr_alerts"]["records"] == 140
        assert by_name["xdr_alerts"]["watermark_age"] == pytest.approx(90)
        assert by_name["okta"]["errors"] == {"service": 1}
        assert status["totals"] == {
            "records": 140,
            "pages": 2,
            "errors": 1,
            "stored": 120,
            "duplicates": 20,
            "failing": 1,
            "degraded": 1,
        }
        bad = by_name["bad_path"]
        assert (bad["health"], bad["state"], bad["next_run_in"]) == ("degraded", "scheduled", 25)
        assert bad["degraded"] == (
            "request.data_path 'data.event' matched nothing in the response of page 1; "
            "candidates: data.events"
        )
        assert bad["findings"][0]["check"] == "data_path"
        assert (by_name["okta"]["health"], by_name["xdr_alerts"]["health"]) == ("failing", "ok")
        assert (by_name["xdr_alerts"]["stored"], by_name["xdr_alerts"]["duplicates"]) == (120, 20)
        prom = (await client.get("/metrics")).text
        assert 'collectorkit_records_total{source="xdr_alerts"} 140.0' in prom
        assert 'collectorkit_http_429_total{source="xdr_alerts"} 3.0' in prom
        assert 'collectorkit_retries_total{source="xdr_alerts"} 4.0' in prom
        assert 'collectorkit_errors_total{kind="service",source="okta"} 1.0' in prom
        assert 'collectorkit_breaker_state{source="okta"} 2.0' in prom
        assert 'collectorkit_watermark_age_seconds{source="xdr_alerts"} 90.0' in prom
        assert 'collectorkit_stop_reasons_total{reason="no_next",source="xdr_alerts"} 1.0' in prom
        assert 'collectorkit_runs_total{outcome="failure",source="okta"} 2.0' in prom
        assert "collectorkit_last_success_timestamp_seconds" in prom
        assert 'collectorkit_degraded{source="bad_path"} 1.0' in prom
        assert 'collectorkit_degraded{source="xdr_alerts"} 0.0' in prom
        assert (
            'collectorkit_self_check_finding{check="data_path",path="request.data_path",'
            'source="bad_path"} 1.0'
        ) in prom
        assert 'collectorkit_records_stored_total{outcome="new",source="xdr_alerts"} 120.0' in prom
        assert (
            'collectorkit_records_stored_total{outcome="duplicate",source="xdr_alerts"} 20.0'
        ) in prom
        metrics.stopping = True
        assert (await client.get("/ready")).status_code == 503
        page = await client.get("/")
        assert page.headers["content-type"].startswith("text/html")
        assert 'fetch("status"' in page.text


async def test_a_token_is_enforced_everywhere_but_health() -> None:
    metrics = RuntimeMetrics(started_at=0)
    srv = StatusServer(metrics, StatusSettings(port=0, token="s3cr3t-status-token"))
    await srv.start()
    try:
        async with httpx2.AsyncClient(base_url=srv.url) as client:
            assert (await client.get("/health")).status_code == 200
            for path in ("/status", "/metrics", "/ready"):
                refused = await client.get(path)
                assert refused.status_code == 401
                assert "s3cr3t" not in refused.text
                wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
                assert wrong.status_code == 401
            for scheme in ("Bearer", "bearer", "BEARER"):
                good = await client.get(
                    "/status", headers={"Authorization": f"{scheme} s3cr3t-status-token"}
                )
                assert good.status_code == 200
            other = await client.get(
                "/status", headers={"Authorization": "Basic s3cr3t-status-token"}
            )
            assert other.status_code == 401
    finally:
        await srv.stop()


PUBLIC = "0.0.0.0"  # noqa: S104 - settings only; nothing binds to it


def test_a_token_is_required_off_loopback() -> None:
    with pytest.raises(
        ConfigError, match=r"status.token: refusing to listen on '0.0.0.0' without a bearer token"
    ):
        StatusSettings(host=PUBLIC, port=0)
    assert "tok" not in repr(StatusSettings(host=PUBLIC, port=0, token="tok-1234567890-abcdef"))


@pytest.mark.parametrize("token", ["", " ", "short-token", "sixteen chars ok"])
def test_a_weak_or_blank_status_token_is_refused_without_echoing_it(token: str) -> None:
    with pytest.raises(
        ConfigError, match=r"status.token: a bearer token must be at least 16"
    ) as info:
        StatusSettings(port=0, token=token)
    assert not token.strip() or token not in str(info.value)


async def test_a_busy_port_is_a_clear_config_error() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = StatusServer(RuntimeMetrics(started_at=0), StatusSettings(port=port))
        with pytest.raises(ConfigError, match=rf"status.port: cannot listen on 127.0.0.1:{port}"):
            await server.start()
        await server.stop()
