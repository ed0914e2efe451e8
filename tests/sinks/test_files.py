"""JSONL rotation and crash recovery; one-JSON-file-per-record naming and recovery."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from collectorkit import ConfigError, Envelope, FakeClock, record_key
from collectorkit.sinks import JSONFileSink, JSONLSink
from collectorkit.typing import QueryCriteria


def _batch(source: str, ids: range) -> list[Envelope]:
    return [Envelope(source, record_key(source, {"id": i}, ["id"]), {"id": i}) for i in ids]


def _glob(directory: Path, pattern: str) -> list[str]:
    return sorted(p.name for p in directory.glob(pattern))


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


async def test_jsonl_lines_carry_key_source_and_record(tmp_path: Path) -> None:
    async with JSONLSink(tmp_path / "e.jsonl") as sink:
        await sink.store(_batch("xdr", range(2)))
    assert _lines(tmp_path / "e.jsonl") == [
        {"key": "xdr:0", "source": "xdr", "data": {"id": 0}},
        {"key": "xdr:1", "source": "xdr", "data": {"id": 1}},
    ]


async def test_jsonl_rotates_by_date_and_source(tmp_path: Path) -> None:
    clock = FakeClock(start=1_700_000_000.0)  # 2023-11-14 UTC
    async with JSONLSink(tmp_path / "{source}" / "{date}.jsonl", clock=clock) as sink:
        await sink.store(_batch("a", range(2)))
        clock.advance(86_400)
        await sink.store(_batch("a", range(2, 3)) + _batch("b/../x", range(1)))
    assert len(_lines(tmp_path / "a" / "2023-11-14.jsonl")) == 2
    assert len(_lines(tmp_path / "a" / "2023-11-15.jsonl")) == 1
    assert not (tmp_path.parent / "x").exists()  # a source name never escapes the directory


async def test_jsonl_rotates_by_size(tmp_path: Path) -> None:
    async with JSONLSink(tmp_path / "e.jsonl", max_bytes=100) as sink:
        for start in range(0, 12, 3):
            await sink.store(_batch("xdr", range(start, start + 3)))
        found = await sink.query(QueryCriteria())
    files = _glob(tmp_path, "e*.jsonl")
    assert files == ["e.1.jsonl", "e.2.jsonl", "e.3.jsonl", "e.jsonl"]
    assert sorted(e.data["id"] for e in found) == list(range(12))


async def test_jsonl_restart_truncates_what_was_not_committed(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    sink = JSONLSink(path)
    await sink.store(_batch("xdr", range(3)))
    await sink.aclose()
    committed = path.stat().st_size
    with path.open("ab") as f:  # what a process killed mid-batch leaves behind
        f.write(b'{"key": "xdr:3", "source": "xdr", "data": {"id": 3}}\n{"key": "xdr:4", "so')
    async with JSONLSink(path) as again:
        assert path.stat().st_size == committed
        result = await again.store(_batch("xdr", range(2, 5)))
        assert (result.written, result.duplicates) == (2, 1)
    assert [x["data"] for x in _lines(path)] == [{"id": i} for i in range(5)]


async def test_jsonl_keeps_content_that_was_there_before(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"key": "old", "source": "s", "data": {"id": "old"}}\n')
    async with JSONLSink(path) as sink:
        await sink.store(_batch("xdr", range(1)))
    assert len(_lines(path)) == 2


def test_jsonl_rejects_unknown_placeholders(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\{host\}|host"):
        JSONLSink(tmp_path / "{host}.jsonl")


async def test_json_files_use_the_seed_naming(tmp_path: Path) -> None:
    clock = FakeClock(start=1_700_000_000.0)
    async with JSONFileSink(tmp_path / "alerts", clock=clock) as sink:
        await sink.store(_batch("xdr", range(2)))
        clock.advance(5)
        result = await sink.store(_batch("xdr", range(3)))
    assert (result.written, result.duplicates) == (1, 2)
    names = sorted(p.name for p in (tmp_path / "alerts").glob("*.json"))
    assert names == [
        "alert_0_20231114_221320.json",
        "alert_1_20231114_221320.json",
        "alert_2_20231114_221325.json",
    ]
    assert orjson.loads((tmp_path / "alerts" / names[2]).read_bytes()) == {"id": 2}


async def test_json_files_same_name_gets_a_suffix(tmp_path: Path) -> None:
    records = [{"id": 7, "v": 1}, {"id": 7, "v": 2}]
    batch = [Envelope("x", record_key("x", r, ["id", "v"]), r) for r in records]
    async with JSONFileSink(tmp_path, filename="alert_{id}.json") as sink:
        assert (await sink.store(batch)).written == 2
        assert sink.path_of(batch[1].key) != sink.path_of(batch[0].key)
    assert len(_glob(tmp_path, "alert_7*.json")) == 2


async def test_json_files_restart_removes_pending_files(tmp_path: Path) -> None:
    sink = JSONFileSink(tmp_path)
    await sink.store(_batch("xdr", range(1)))
    await sink.aclose()
    # a crash between "pending" and "committed": the file exists, the index says pending
    import sqlite3

    db = sqlite3.connect(tmp_path / ".collectorkit-index.db")
    with db:
        db.execute("UPDATE files SET committed = 0")
    db.close()
    assert len(_glob(tmp_path, "*.json")) == 1
    async with JSONFileSink(tmp_path) as again:
        assert _glob(tmp_path, "*.json") == []
        assert (await again.store(_batch("xdr", range(1)))).written == 1
    assert len(_glob(tmp_path, "*.json")) == 1


def test_json_files_rejects_a_slash_in_the_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="filename"):
        JSONFileSink(tmp_path, filename="../{id}.json")


async def test_unwritable_directory_is_a_sink_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from collectorkit import SinkError

    with pytest.raises(SinkError):
        await JSONLSink(blocker / "e.jsonl").store(_batch("x", range(1)))
    assert _glob(tmp_path, "file") == ["file"]


@pytest.mark.parametrize(
    ("template", "index"),
    [
        ("out/{source}/{date}.jsonl", "out/.collectorkit-jsonl.db"),
        ("out/events-{date}.jsonl", "out/.collectorkit-jsonl.db"),
        ("out/events.jsonl", "out/events.jsonl.index.db"),
    ],
)
def test_jsonl_index_lives_in_the_fixed_directory(
    tmp_path: Path, template: str, index: str
) -> None:
    assert JSONLSink(tmp_path / template).index_path == str(tmp_path / index)
