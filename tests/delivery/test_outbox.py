"""The callback outbox on real state stores, with a fake clock for the backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collectorkit import RetryPolicy, SinkError, SQLiteSink
from collectorkit._clock import FakeClock
from collectorkit.delivery import deliver
from collectorkit.delivery._checkpoint import DEFAULT_CHECKPOINT_NAMESPACE
from collectorkit.delivery._outbox import (
    DEAD_NAMESPACE,
    NAMESPACE,
    CallbackOutbox,
    idempotency_key,
    next_attempt_at,
)
from collectorkit.state import SQLiteStateStore
from collectorkit.typing import StateStore
from tests.state.conftest import make_store

KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.integration),
    pytest.param("redis", marks=pytest.mark.integration),
]
POLICY = RetryPolicy(max_attempts=4, initial_delay=1.0, multiplier=2.0, jitter=False)


class Hook:
    """A user's callback: fails ``failures`` times, then records what it was given."""

    label = "hook"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.got: list[tuple[str, str]] = []

    async def __call__(
        self,
        source: str,
        alerts: Sequence[Mapping[str, Any]],
        *,
        idempotency_keys: Sequence[str] = (),
    ) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("receiver down")
        self.got += [(str(a["id"]), k) for a, k in zip(alerts, idempotency_keys, strict=True)]


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    made = await make_store(request.param, request, tmp_path)
    yield made
    await made.aclose()


def _alerts(n: int) -> tuple[list[dict[str, Any]], list[str | None]]:
    alerts = [{"id": f"a{i}", "severity": "high"} for i in range(n)]
    return alerts, [a["id"] for a in alerts]


async def test_enqueued_alerts_are_delivered_once_with_their_keys(store: StateStore) -> None:
    hook = Hook()
    outbox = CallbackOutbox(store, {"src": [hook]}, retry=POLICY, clock=FakeClock())
    alerts, ids = _alerts(5)
    assert await outbox.enqueue("src", alerts, ids) == 5
    assert await outbox.enqueue("src", alerts, ids) == 0  # already queued: kept as it is
    result = await outbox.drain()
    assert result.delivered == 5
    assert hook.got == [(f"a{i}", idempotency_key("src", f"a{i}")) for i in range(5)]
    assert await store.list(NAMESPACE) == {}
    assert outbox.figures["src"].pending == 0
    assert outbox.figures["src"].delivered == 5


async def test_a_failing_callback_backs_off_and_then_delivers(store: StateStore) -> None:
    clock = FakeClock()
    hook = Hook(failures=2)
    outbox = CallbackOutbox(store, {"src": [hook]}, retry=POLICY, clock=clock)
    await outbox.enqueue("src", *_alerts(3))
    assert (await outbox.drain()).failed == 3
    assert await outbox.next_due_in() == pytest.approx(1.0)
    assert (await outbox.drain()).failed == 0  # not due yet: nothing sent
    assert hook.calls == 1
    clock.advance(1.0)
    assert (await outbox.drain()).failed == 3
    assert await outbox.next_due_in() == pytest.approx(2.0)  # exponential
    clock.advance(1.0)
    figures = outbox.figures["src"]
    assert (figures.pending, figures.failures, figures.lag(clock.time())) == (3, 2, 2.0)
    clock.advance(1.0)
    assert (await outbox.drain()).delivered == 3
    assert [a for a, _ in hook.got] == ["a0", "a1", "a2"]
    assert await store.list(NAMESPACE) == {}


async def test_after_max_attempts_alerts_go_to_the_dead_letter(store: StateStore) -> None:
    clock = FakeClock()
    hook = Hook(failures=100)
    outbox = CallbackOutbox(store, {"src": [hook]}, retry=POLICY, clock=clock)
    await outbox.enqueue("src", *_alerts(2))
    for _ in range(POLICY.max_attempts):
        await outbox.drain(due_only=False)
    dead = await store.list(DEAD_NAMESPACE)
    assert len(dead) == 2
    assert {v.value["alert"]["id"] for v in dead.values()} == {"a0", "a1"}
    assert all(v.value["attempts"] == POLICY.max_attempts for v in dead.values())
    assert all("receiver down" in v.value["last_error"] for v in dead.values())
    assert await store.list(NAMESPACE) == {}
    assert outbox.figures["src"].dead_lettered == 2


async def test_entries_survive_a_new_outbox_on_the_same_store(store: StateStore) -> None:
    first = CallbackOutbox(store, {"src": [Hook(failures=1)]}, retry=POLICY, clock=FakeClock())
    await first.enqueue("src", *_alerts(4))
    await first.drain()  # fails: the entries stay
    hook = Hook()
    restarted = CallbackOutbox(store, {"src": [hook]}, retry=POLICY, clock=FakeClock())
    assert (await restarted.drain(due_only=False)).delivered == 4
    assert len(hook.got) == 4


def test_next_attempt_follows_the_retry_policy() -> None:
    assert next_attempt_at(1, 100.0, POLICY, 0.5) == 101.0
    assert next_attempt_at(2, 100.0, POLICY, 0.5) == 102.0
    assert next_attempt_at(3, 100.0, POLICY, 0.5) == 104.0
    assert next_attempt_at(4, 100.0, POLICY, 0.5) is None


@dataclass
class _Page:
    events: list[dict[str, Any]]
    state: dict[str, Any]


async def _pages(n: int) -> AsyncIterator[_Page]:
    for i in range(n):
        yield _Page([{"id": f"p{i}-{j}"} for j in range(3)], {"cursor": f"c{i}"})


async def test_alerts_are_queued_before_their_page_is_checkpointed(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "ck.db")
    outbox = CallbackOutbox(store, {"src": [Hook()]}, retry=POLICY, clock=FakeClock())
    seen: list[Any] = []

    async def queue(records: list[dict[str, Any]]) -> None:
        seen.append(await store.get(DEFAULT_CHECKPOINT_NAMESPACE, "src"))
        await outbox.enqueue("src", records, [r["id"] for r in records])
        if len(seen) == 2:
            raise ConnectionError("killed between the queue and the checkpoint")

    with pytest.raises(SinkError):
        await deliver(
            _pages(3),
            source="src",
            sinks=[SQLiteSink(tmp_path / "ck.db")],
            state_store=store,
            before_checkpoint=queue,
        )
    saved = await store.get(DEFAULT_CHECKPOINT_NAMESPACE, "src")
    assert seen[0] is None  # the first page's alerts were queued before its checkpoint
    assert saved is not None
    assert saved.value == {"cursor": "c0"}  # the second page was not checkpointed ...
    assert len(await outbox.entries()) == 6  # ... but its alerts wait in the outbox
    await store.aclose()
