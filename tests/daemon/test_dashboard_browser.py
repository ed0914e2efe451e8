"""The dashboard in a real headless Chromium: its script fetches /status and renders the sources."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from collectorkit import FakeClock
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


async def _dump_dom(url: str, profile: Path, *, budget: int = 3000) -> str:
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
        "--dump-dom",
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
    metrics.ready = True
    token = "dash-token-5f1e"
    server = StatusServer(metrics, StatusSettings(port=0, token=token), clock=clock)
    await server.start()
    try:
        dom = await _dump_dom(f"{server.url}/dashboard#token={token}", tmp_path / "profile")
        denied = await _dump_dom(f"{server.url}/dashboard", tmp_path / "profile2")
    finally:
        await server.stop()
    assert 'data-source="xdr_alerts"' in dom
    assert 'data-source="okta_logs"' in dom
    assert '<td class="records">1234</td>' in dom
    assert "backing_off" in dom
    assert "service: 1" in dom
    assert "HTTP 503 from upstream" in dom
    assert "2 sources · 1234 records" in dom
    assert "HTTP 401 from /status" in denied
    assert 'data-source="xdr_alerts"' not in denied


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
    assert '<td class="records">1000</td>' not in dom
    assert f'<td class="records">{metrics.polls * 1000}</td>' in dom
