"""Sinks by config name; fan-out, dead-letter, stdout."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from collectorkit import ConfigError, Envelope, SinkError
from collectorkit.pipeline import DeadLetter
from collectorkit.sinks import (
    DeadLetterSink,
    FanoutSink,
    JSONLSink,
    MemorySink,
    SQLiteSink,
    StdoutSink,
    build_sink,
    sink_types,
)
from collectorkit.typing import QueryCriteria


def test_build_sink_from_config(tmp_path: Path) -> None:
    sink = build_sink({"type": "sqlite", "path": str(tmp_path / "x.db")})
    assert isinstance(sink, SQLiteSink)
    fan = build_sink(
        {"type": "fanout", "sinks": [{"type": "memory"}, {"type": "jsonl", "path": "x.jsonl"}]}
    )
    assert isinstance(fan, FanoutSink)
    assert isinstance(fan.sinks[1], JSONLSink)


def test_postgres_takes_url_or_dsn() -> None:
    from collectorkit.sinks import PostgresSink

    sink = build_sink({"type": "postgres", "dsn": "postgresql://u:pw@127.0.0.1:1/db"})
    assert isinstance(sink, PostgresSink)
    assert "pw" not in repr(sink)
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.url"):
        build_sink({"type": "postgres"})


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        build_sink({"type": "sqlit"}, path="sinks[2]")
    message = str(info.value)
    assert message.startswith("sinks[2].type:")
    assert "did you mean 'sqlite'" in message
    for name in ("jsonl", "postgres", "redis", "http", "stdout"):
        assert name in message
    assert set(sink_types()) >= {"sqlite", "jsonl", "json_files", "memory", "fanout"}


def test_bad_option_names_the_path() -> None:
    with pytest.raises(ConfigError, match=r"sinks\[0\].*colour"):
        build_sink({"type": "sqlite", "colour": "red"})
    with pytest.raises(ConfigError, match=r"sinks\[1\]\.table"):
        build_sink({"type": "sqlite", "table": "x; drop"}, path="sinks[1]")


async def test_fanout_fails_when_one_sink_fails_and_is_retryable() -> None:
    good, bad = MemorySink(name="good"), MemorySink(name="bad")
    bad.fail_next = 1
    fan = FanoutSink([good, bad])
    batch = [Envelope("s", f"s:{i}", {"id": i}) for i in range(3)]
    with pytest.raises(SinkError, match="'bad'"):
        await fan.store(batch)
    result = await fan.store(batch)  # the retry: idempotent where it had already landed
    assert result.written == 0  # the first sink already had them
    assert len(good) == len(bad) == 3


async def test_dead_letter_sink_keeps_reason_and_payload_once() -> None:
    inner = MemorySink()
    dls = DeadLetterSink(inner)
    letter = DeadLetter(reason="Missing required fields: ['id']", payload={"x": 1}, processor="v")
    await dls.put([letter])
    await dls.put([letter])
    (stored,) = await dls.query(QueryCriteria())
    assert stored.data["reason"] == "Missing required fields: ['id']"
    assert stored.data["payload"] == {"x": 1}
    assert stored.data["processor"] == "v"
    assert len(inner) == 1


async def test_stdout_sink_writes_json_lines() -> None:
    out = io.StringIO()
    sink = StdoutSink(stream=out)
    await sink.store([Envelope("s", "s:1", {"id": 1}), Envelope("s", "s:2", {"b": b"x"})])
    assert out.getvalue() == '{"id":1}\n{"b":"x"}\n'
