"""ReconnectPolicy decides waits without I/O; streaming sources shut down cleanly from outside."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import ConfigError, FakeClock
from collectorkit.sources import ReconnectPolicy, SSESource

from .conftest import FeedServer


def test_exponential_growth_cap_and_giving_up() -> None:
    policy = ReconnectPolicy(initial_delay=1, multiplier=3, max_delay=20, jitter=0, max_attempts=5)
    assert [policy.delay(n) for n in range(1, 7)] == [1, 3, 9, 20, 20, None]


def test_server_delay_replaces_the_base() -> None:
    policy = ReconnectPolicy(initial_delay=1, jitter=0)
    assert policy.delay(1, server_delay=4.0) == 4.0
    assert policy.delay(2, server_delay=4.0) == 8.0


@given(
    attempt=st.integers(min_value=1, max_value=50),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_jitter_stays_within_its_band(attempt: int, rand: float, jitter: float) -> None:
    policy = ReconnectPolicy(initial_delay=0.5, max_delay=30, jitter=jitter)
    plain = ReconnectPolicy(initial_delay=0.5, max_delay=30, jitter=0).delay(attempt)
    assert plain is not None
    delay = policy.delay(attempt, rand=rand)
    assert delay is not None
    assert plain * (1 - jitter) - 1e-9 <= delay <= plain * (1 + jitter) + 1e-9


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"multiplier": 0.5}, "multiplier"),
        ({"jitter": 2}, "jitter"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_invalid_policy_names_the_field(options: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=f"ReconnectPolicy.{field}: invalid value"):
        ReconnectPolicy(**options)  # type: ignore[arg-type]


async def test_disconnect_from_another_task_wakes_the_consumer(feed_server: FeedServer) -> None:
    feed_server.feed.total = 3
    src = SSESource(
        feed_server.url("/sse"),
        source_id="s",
        clock=FakeClock(),
        batch_size=100,
        batch_timeout=0.05,
    )
    got: list[int] = []
    all_in = asyncio.Event()

    async def consume() -> None:
        async for batch in src.collect_stream():
            got.extend(r["seq"] for r in batch)
            if len(got) >= 3:
                all_in.set()

    await src.connect()
    task = asyncio.create_task(consume())
    await asyncio.wait_for(all_in.wait(), 5)
    await src.aclose()  # the consumer is waiting for a fourth event that never comes
    await asyncio.wait_for(task, 2)
    assert got == [1, 2, 3]
    assert not src.connected
