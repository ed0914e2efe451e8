"""The fencing epoch on a real PostgreSQL: a run that started later always wins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from collectorkit import FencedError
from collectorkit.fleet import FencedStateStore
from collectorkit.state import (
    Fence,
    PostgresStateStore,
    postgres_check_fence,
    postgres_create_fence_table,
    postgres_create_state_table,
    postgres_fences,
    postgres_finish_run,
    postgres_put_state,
    postgres_start_run,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(postgres_fresh_url: str) -> AsyncIterator[PostgresStateStore]:
    async with PostgresStateStore(postgres_fresh_url) as s:
        await s.run(postgres_create_fence_table)
        yield s


async def _start(store: PostgresStateStore, source: str, holder: str) -> Fence:
    async def work(conn: psycopg.AsyncConnection[Any]) -> Fence:
        return await postgres_start_run(conn, source, holder=holder, now=100.0)

    return await store.run(work)


async def test_each_run_bumps_the_epoch_and_an_older_run_s_write_is_refused(
    store: PostgresStateStore,
) -> None:
    first = await _start(store, "okta", "w0")
    second = await _start(store, "okta", "w1")
    assert (first.epoch, second.epoch) == (1, 2)
    await FencedStateStore(store, second).put("collector_state", "okta", {"page": 2})
    zombie = FencedStateStore(store, first)
    with pytest.raises(FencedError) as caught:
        await zombie.put("collector_state", "okta", {"page": 1})
    assert (caught.value.source, caught.value.epoch, caught.value.current) == ("okta", 1, 2)
    assert "epoch 1" in str(caught.value)
    assert "epoch 2" in str(caught.value)
    saved = await store.get("collector_state", "okta")
    assert saved is not None
    assert saved.value == {"page": 2}


async def test_a_source_never_started_refuses_a_fenced_write(store: PostgresStateStore) -> None:
    with pytest.raises(FencedError):
        await store.put("collector_state", "x", {"a": 1}, fence=Fence(key="x", epoch=1))
    assert await store.get("collector_state", "x") is None


async def test_finishing_records_the_outcome_only_for_the_current_run(
    store: PostgresStateStore,
) -> None:
    first = await _start(store, "okta", "w0")
    second = await _start(store, "okta", "w1")

    async def finish(fence: Fence, outcome: str) -> bool:
        async def work(conn: psycopg.AsyncConnection[Any]) -> bool:
            return await postgres_finish_run(conn, fence, now=200.0, outcome=outcome)

        return await store.run(work)

    assert not await finish(first, "fenced")
    assert await finish(second, "success")
    (row,) = await store.run(postgres_fences)
    assert (row.key, row.epoch, row.holder, row.outcome) == ("okta", 2, None, "success")


async def test_a_bump_waits_for_a_fenced_commit_under_way(
    store: PostgresStateStore, postgres_fresh_url: str
) -> None:
    """The check holds the fence row FOR SHARE until the checkpoint commits: a successor's
    bump cannot slip between a zombie's check and its write."""
    fence = await _start(store, "okta", "w0")
    async with await psycopg.AsyncConnection.connect(postgres_fresh_url) as writer:
        await postgres_create_state_table(writer)
        await writer.commit()
        await postgres_check_fence(writer, fence)
        await postgres_put_state(writer, "collector_state", "okta", {"page": 1}, now=1.0)
        async with await psycopg.AsyncConnection.connect(
            postgres_fresh_url, autocommit=True
        ) as successor:
            await successor.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                await postgres_start_run(successor, "okta", holder="w1", now=2.0)
            await writer.commit()
            bumped = await postgres_start_run(successor, "okta", holder="w1", now=3.0)
    assert bumped.epoch == 2
    with pytest.raises(FencedError):
        await store.put("collector_state", "okta", {"page": 0}, fence=fence)
    saved = await store.get("collector_state", "okta")
    assert saved is not None
    assert saved.value == {"page": 1}


async def test_concurrent_starts_get_distinct_epochs(store: PostgresStateStore) -> None:
    fences = await asyncio.gather(*(_start(store, "okta", f"w{i}") for i in range(8)))
    assert sorted(f.epoch for f in fences) == list(range(1, 9))
