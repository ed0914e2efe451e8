"""Request-level limits shared through PostgreSQL by every worker using one credential."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from collectorkit.fleet._limits import PostgresSharedLimit, create_limits_table, credential_key
from collectorkit.state import PostgresStateStore
from tests.fleet._fleet import fleet, simulator, wait_for, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
async def stores(postgres_fresh_url: str) -> AsyncIterator[list[PostgresStateStore]]:
    """Three stores with their own connection pools: three processes, as far as the database
    can tell."""
    opened = [PostgresStateStore(postgres_fresh_url) for _ in range(3)]
    await opened[0].run(create_limits_table)
    yield opened
    for store in opened:
        await store.aclose()


async def test_three_sharers_hold_the_configured_rate_within_5_percent(
    stores: list[PostgresStateStore],
) -> None:
    rate, total = 40.0, 90
    limits = [PostgresSharedLimit(s, "api:k", rate_per_second=rate, burst=1) for s in stores]
    sent: list[float] = []

    async def client(limit: PostgresSharedLimit) -> None:
        while len(sent) < total:
            await asyncio.sleep(await limit.acquire())
            sent.append(time.monotonic())

    await asyncio.wait_for(asyncio.gather(*(client(limit) for limit in limits)), timeout=20)
    sent.sort()
    measured = (len(sent) - 1) / (sent[-1] - sent[0])
    assert abs(measured - rate) / rate <= 0.05, measured


async def test_a_pause_seen_by_one_sharer_holds_every_sharer(
    stores: list[PostgresStateStore],
) -> None:
    first, second, third = (PostgresSharedLimit(s, "api:k") for s in stores)
    assert await second.acquire() == 0.0
    first.pause(30.0)
    assert await first.acquire() == pytest.approx(30.0, abs=1.0)
    assert await second.acquire() == pytest.approx(30.0, abs=1.0)
    assert await third.acquire() == pytest.approx(30.0, abs=1.0)
    other = PostgresSharedLimit(stores[0], "api:another-credential")
    assert await other.acquire() == 0.0


def test_the_bucket_key_names_the_host_and_never_the_secret() -> None:
    key = credential_key("https://api.example.com/v1", ["s3cr3t-token"])
    assert key.startswith("api.example.com:")
    assert "s3cr3t" not in key
    assert key != credential_key("https://api.example.com/v1", ["other-token"])
    assert key == credential_key("https://API.example.com/v2", ["s3cr3t-token"])


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_429_seen_by_one_worker_pauses_every_worker_on_that_credential(
    tmp_path: Path, postgres_fresh_url: str
) -> None:
    pause = 3.0
    faults: list[dict[str, Any]] = [
        {"kind": "slow", "target": "*", "delay": 0.05},
        {"kind": "rate_limit", "target": "g00", "requests": "25", "retry_after": pause},
    ]
    with simulator(1, records=2000, faults=faults) as sim:
        config = write_config(
            tmp_path / "fleet.yaml",
            sim,
            postgres_fresh_url,
            count=6,
            profile="g00",
            page=10,
            fleet="{concurrency: 2, heartbeat: 0.5s, stalled_after: 2s, dispatch_every: 1}",
        )
        samples: list[tuple[float, int, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                snap = sim.stats.snapshot()
                samples.append(
                    (
                        time.monotonic(),
                        snap["requests"].get("total", 0),
                        snap["statuses"].get("429", 0),
                    )
                )
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            with fleet(config, tmp_path, 3) as running:
                wait_for(
                    lambda: (
                        bool(samples)
                        and samples[-1][2] >= 1
                        and samples[-1][0] - next(t for t, _, f in samples if f >= 1) > pause + 1
                    ),
                    "the 429 and the pause after it",
                    60,
                    running,
                )
                workers_busy = {w.name for w in running.workers if w.events("fleet run started")}
        finally:
            done.set()
            sampler.join()
    hit = next(t for t, _, f in samples if f >= 1)

    def count_at(at: float) -> int:
        return max(n for t, n, _ in samples if t <= at)

    in_pause = count_at(hit + pause - 0.3) - count_at(hit + 0.3)
    after = count_at(hit + pause + 1.0) - count_at(hit + pause - 0.3)
    assert len(workers_busy) == 3  # every worker was collecting from that credential
    assert in_pause == 0, [(round(t - hit, 2), n) for t, n, _ in samples if 0 < t - hit < pause]
    assert after > 0
