"""The dashboard in a real headless Chromium: its script fetches /status and renders the sources,
and reads at 900 px wide."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import struct
from pathlib import Path

import pytest

from collectorkit import FakeClock
from collectorkit.collect import Finding
from collectorkit.daemon._metrics import RuntimeMetrics
from collectorkit.daemon._status import StatusServer, StatusSettings

pytestmark = pytest.mark.browser


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("COLLECTORKIT_REQUIRE_SERVICES") == "1":
        pytest.fail("chromium is not installed (scripts/install-system-deps installs it)")
    pytest.skip("chromium is not installed")


async def _dump_dom(
    url: str, profile: Path, *, budget: int = 3000, width: int | None = None
) -> str:
    return await _chromium_run(url, profile, "--dump-dom", budget=budget, width=width)


async def _chromium_run(
    url: str, profile: Path, *args: str, budget: int = 3000, width: int | None = None
) -> str:
    size = [f"--window-size={width},1000"] if width else []
    proc = await asyncio.create_subprocess_exec(
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget}",
        *size,
        *args,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0
    return out.decode()


async def test_dashboard_renders_each_source_from_status(tmp_path: Path) -> None:
    clock = FakeClock()
    metrics = RuntimeMetrics(started_at=clock.time())
    xdr = metrics.source("xdr_alerts")
    xdr.state = "running"
    xdr.page(clock.time() - 3, 1234)
    xdr.http_429 = 7
    okta = metrics.source("okta_logs")
    okta.state = "backing_off"
    okta.error(clock.time(), "service", "HTTP 503 from upstream")
    okta.callbacks_pending, okta.callbacks_oldest = 3, clock.time() - 125
    okta.callbacks_delivered, okta.callbacks_failed, okta.callbacks_dead_lettered = 40, 5, 1
    metrics.ready = True
    token = "dash-token-5f1e-9c2a7b"
    server = StatusServer(metrics, StatusSettings(port=0, token=token), clock=clock)
    await server.start()
    try:
        dom = await _dump_dom(f"{server.url}/dashboard#token={token}", tmp_path / "profile")
        denied = await _dump_dom(f"{server.url}/dashboard", tmp_path / "profile2")
    finally:
        await server.stop()
    assert 'data-source="xdr_alerts"' in dom
    assert 'data-source="okta_logs"' in dom
    assert '<td class="records">1234<div class="sub counts">0 new · 0 dup</div></td>' in dom
    assert "backing_off" in dom
    assert "service: 1" in dom
    assert "HTTP 503 from upstream" in dom
    text = _text(dom)
    assert "callbacks: 3 waiting (oldest 2m) · 40 delivered · 5 failed · 1 dead-lettered" in text
    assert dom.count('<div class="sub callbacks bad">') == 1  # none for a source without any
    assert "2 sources · 1 failing · 0 degraded · 1234 records" in _text(dom)
    assert "HTTP 401 from /status" in denied
    assert 'data-source="xdr_alerts"' not in denied


async def test_a_worker_dashboard_shows_the_fleet(tmp_path: Path) -> None:
    clock = FakeClock()
    metrics = RuntimeMetrics(started_at=clock.time())
    metrics.source("okta_logs").state = "running"
    metrics.ready = True
    sources = [
        {
            "name": "okta_logs",
            "holder": "w1@host-a",
            "epoch": 7,
            "last_run_age": 5.0,
            "last_outcome": "ok",
            "stalls_recovered": 0,
        },
        {
            "name": "xdr_alerts",
            "holder": None,
            "epoch": 3,
            "last_run_age": 600.0,
            "last_outcome": "fenced",
            "stalls_recovered": 2,
        },
    ]
    metrics.fleet = lambda now: {
        "worker": "w2@host-b",
        "read_at": now,
        "sources": sources,
        "held": {"okta_logs": "w1@host-a"},
        "stalls_recovered": 2,
    }
    server = StatusServer(metrics, StatusSettings(port=0), clock=clock)
    await server.start()
    try:
        dom = await _dump_dom(f"{server.url}/dashboard", tmp_path / "profile")
    finally:
        await server.stop()
    text = _text(dom)
    assert "this worker: w2@host-b · 1 of 2 sources running · 2 stalls recovered" in text
    assert 'data-fleet-source="okta_logs"' in dom
    assert '<td class="holder">w1@host-a</td><td class="num">7</td>' in dom
    assert (
        '<td class="holder idle">none</td><td class="num">3</td><td class="num">10m ago</td>' in dom
    )
    assert '<td class="err">fenced</td><td class="num">2</td>' in dom


async def test_a_single_process_dashboard_has_no_fleet_section(tmp_path: Path) -> None:
    metrics = RuntimeMetrics(started_at=0)
    metrics.source("okta_logs").state = "running"
    server = StatusServer(metrics, StatusSettings(port=0))
    await server.start()
    try:
        dom = await _dump_dom(f"{server.url}/dashboard", tmp_path / "profile")
    finally:
        await server.stop()
    assert '<section id="fleet" hidden="">' in dom
    assert "data-fleet-source" not in dom


class _Growing(RuntimeMetrics):
    """Each /status poll sees 1000 more records: the page must show a later poll's figure."""

    polls = 0

    def snapshot(self, now: float) -> dict[str, object]:
        self.polls += 1
        self.source("xdr_alerts").page(now, 1000)
        return super().snapshot(now)


async def test_dashboard_refreshes_live(tmp_path: Path) -> None:
    metrics = _Growing(started_at=0)
    metrics.source("xdr_alerts").state = "running"
    metrics.ready = True
    server = StatusServer(metrics, StatusSettings(port=0))
    await server.start()
    try:
        dom = await _dump_dom(f"{server.url}/", tmp_path / "profile", budget=7000)
    finally:
        await server.stop()
    assert metrics.polls >= 3
    assert '<td class="records">1000<div' not in dom
    assert f'<td class="records">{metrics.polls * 1000}<div' in dom


def _text(dom: str) -> str:
    """The page's text, without its tags."""
    return re.sub(r"<[^>]+>", "", dom)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


async def test_dashboard_shows_health_freshness_and_next_run_at_900_px(tmp_path: Path) -> None:
    clock = FakeClock()
    now = clock.time()
    metrics = RuntimeMetrics(started_at=now - 600)
    good = metrics.source("xdr_alerts")
    good.state, good.next_run, good.watermark = "scheduled", now + 25, now - 90
    good.page(now - 3, 1234)
    good.stored, good.duplicates = 1200, 34
    bad = metrics.source("app_events_with_a_long_name")
    bad.state, bad.next_run = "scheduled", now + 3 * 3600
    bad.findings = [
        Finding(
            check="data_path",
            path="request.data_path",
            value="data.event",
            message="matched nothing in the response of page 1; it holds lists at data.events",
            candidates=("data.events",),
        ).to_dict()
    ]
    failing = metrics.source("okta_logs")
    failing.state, failing.consecutive_failures = "backing_off", 3
    failing.error(now, "service", "HTTP 503 from upstream " + "x" * 300)
    metrics.ready = True
    server = StatusServer(metrics, StatusSettings(port=0), clock=clock)
    await server.start()
    shot = tmp_path / "dashboard.png"
    try:
        dom = await _dump_dom(f"{server.url}/", tmp_path / "p1", width=900)
        await _chromium_run(
            f"{server.url}/", tmp_path / "p2", f"--screenshot={shot}", "--hide-scrollbars",
            width=900,
        )  # fmt: skip
    finally:
        await server.stop()
    assert _png_size(shot) == (900, 1000)
    header = "3 sources · 1 failing · 1 degraded · 1234 records (1200 new, 34 duplicates)"
    assert header in _text(dom)
    assert '<td class="freshness">90s old</td>' in dom
    assert '<td class="next-run">in 25s</td>' in dom
    assert '<td class="next-run">in 3h</td>' in dom
    assert '<td class="freshness">no watermark</td>' in dom
    assert "1200 new · 34 dup" in dom
    assert '<span class="state health degraded">degraded</span>' in dom
    assert '<span class="state health failing">failing</span>' in dom
    assert "request.data_path 'data.event' matched nothing" in dom
    assert "candidates: data.events" in dom
    assert 'data-fits="true"' in dom  # no sideways scrolling at 900 px
