"""StreamingSource's own rules, with an in-memory stream: tokens, dedup, reconnects, bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from collectorkit import FakeClock, SourceError
from collectorkit.sources import FatalSourceError, ReconnectPolicy, StreamEvent, StreamingSource

HOLD = "hold"
"""In a script: keep the connection open, silent, until the source disconnects."""


class ScriptedStream(StreamingSource):
    """Each connection plays the next script: events, then an optional error or HOLD."""

    def __init__(
        self, scripts: list[list[StreamEvent | Exception | str]], **options: object
    ) -> None:
        super().__init__(source_id="scripted", clock=FakeClock(), batch_timeout=0.05, **options)  # type: ignore[arg-type]
        self.scripts = scripts
        self.resumed_from: list[str | None] = []

    async def _read(self, resume_token: str | None) -> AsyncGenerator[StreamEvent, None]:
        self.resumed_from.append(resume_token)
        script = self.scripts.pop(0) if self.scripts else []
        for item in script:
            if isinstance(item, Exception):
                raise item
            if item == HOLD:
                await asyncio.Event().wait()
            assert isinstance(item, StreamEvent)
            yield item


def ev(token: str, *ids: int) -> StreamEvent:
    return StreamEvent([{"id": i} for i in ids], event_id=token, token=token)


async def test_a_checkpoint_inside_an_event_points_before_it() -> None:
    src = ScriptedStream([[ev("e1", 1, 2, 3), ev("e2", 4)]], batch_size=2, max_events=4)
    async with src:
        stream = src.collect_stream()
        assert [r["id"] for r in await anext(stream)] == [1, 2]
        assert src.last_event_id is None  # 3 is still to come: resuming must re-read e1
        assert [r["id"] for r in await anext(stream)] == [3, 4]
        assert src.last_event_id == "e2"


async def test_reconnects_resume_from_the_last_received_token_and_drop_replays() -> None:
    scripts: list[list[StreamEvent | Exception | str]] = [
        [ev("a", 1), SourceError("reset")],
        [ev("a", 1), ev("b", 2), HOLD],  # the server replays "a"
    ]
    src = ScriptedStream(scripts, max_events=2, reconnect=ReconnectPolicy(jitter=0))
    async with src:
        got = [r["id"] async for batch in src.collect_stream() for r in batch]
    assert got == [1, 2]
    assert src.resumed_from == [None, "a"]
    assert src.duplicates_dropped == 1
    assert isinstance(src.clock, FakeClock)
    assert src.clock.sleeps == [0.5]


async def test_fatal_error_ends_the_stream_after_what_arrived() -> None:
    src = ScriptedStream([[ev("a", 1), FatalSourceError("scripted: 401")]], batch_size=10)
    async with src:
        stream = src.collect_stream()
        assert [r["id"] for r in await anext(stream)] == [1]
        with pytest.raises(SourceError, match="scripted: 401"):
            await anext(stream)


async def test_gives_up_after_max_attempts_without_events() -> None:
    src = ScriptedStream([], reconnect=ReconnectPolicy(jitter=0, max_attempts=3))
    async with src:
        with pytest.raises(SourceError, match="gave up after 3 reconnects"):
            await src.collect_stream().__anext__()
    assert isinstance(src.clock, FakeClock)
    assert src.clock.sleeps == [0.5, 1.0, 2.0]


def test_bad_bounds_are_config_errors() -> None:
    with pytest.raises(ValueError, match="batch_size: must be >= 1"):
        ScriptedStream([], batch_size=0)
    with pytest.raises(ValueError, match="max_events: must be >= 1 or None"):
        ScriptedStream([], max_events=0)
