"""Pass-through: records go from the API's bytes to the sinks' without being re-serialised.

A cursor-paginated API (pytest-httpserver) serves records spelled by hand — escapes, non-ASCII,
exponents, integers past 64 bits, key orders — that any decode/encode round trip would change.
With ``pass_through=True`` the sinks must hold those bytes verbatim, exactly once, across
failures and re-runs; where pass-through cannot apply, the records are decoded and the report
says why.
"""

from __future__ import annotations

import asyncio
import gzip
import sqlite3
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import (
    CollectorBlueprint,
    CollectorClient,
    CollectorError,
    CollectorRequest,
    FakeClock,
    IncrementalConfig,
    PaginationConfig,
    Pipeline,
    RawRecord,
    RetryPolicy,
    collect_into,
    collect_into_sync,
)
from collectorkit.sinks import JSONLSink, MemorySink, SQLiteSink
from collectorkit.testing import no_backoff

PAGES, PER_PAGE = 5, 20


def _record(n: int) -> bytes:
    """One record's bytes as an API might spell them (no line breaks: compact JSON)."""
    if n % 3 == 0:
        return (
            b'{"id": "r%d", "created": "2024-05-01T00:%02d:00Z", "msg": "caf\\u00e9 \\"q\\" %d",'
            b' "score": 1.50E+3, "deep": {"a": [1, {"b": null}]}}' % (n, n % 60, n)
        )
    if n % 3 == 1:
        return (
            b'{"created":"2024-05-01T00:%02d:00Z","big":123456789012345678901,'
            b'"msg":"\xe2\x9c\x93","id":"r%d"}' % (n % 60, n)
        )
    return b'{"id":"r%d","created":"2024-05-01T00:%02d:00Z","tags":["x","y"]}' % (n, n % 60)


class _API:
    def __init__(self) -> None:
        self.requests: Counter[int] = Counter()
        self.fail_at: int | None = None

    def __call__(self, request: Request) -> Response:
        page = int(request.args.get("cursor", 0))
        self.requests[page] += 1
        if page == self.fail_at:
            return Response("boom", status=500)
        records = b", ".join(_record(page * PER_PAGE + i) for i in range(PER_PAGE))
        nxt = b'"%d"' % (page + 1) if page + 1 < PAGES else b"null"
        body = b'{"result": {"events": [%s]}, "paging": {"next": %s}}' % (records, nxt)
        return Response(body, content_type="application/json")


@pytest.fixture
def api(httpserver: HTTPServer) -> _API:
    handler = _API()
    httpserver.expect_request("/events").respond_with_handler(handler)
    return handler


def _blueprint(httpserver: HTTPServer, **request: Any) -> CollectorBlueprint:
    return CollectorBlueprint(
        name="events",
        base_url=httpserver.url_for("/").rstrip("/"),
        request=CollectorRequest(
            endpoint="/events",
            data_path="result.events",
            pagination=PaginationConfig(mode="cursor", next_cursor_path="paging.next"),
            **request,
        ),
        retry_policy=RetryPolicy(max_attempts=1),
    )


ALL = [_record(n) for n in range(PAGES * PER_PAGE)]


def _jsonl_data(path: Path) -> list[bytes]:
    """The ``data`` bytes of each line, cut out of the line itself (not re-serialised)."""
    out = []
    for line in path.read_bytes().splitlines():
        head = b'"source":"events","data":'
        assert head in line
        out.append(line[line.index(head) + len(head) : -1])
    return out


async def test_jsonl_holds_the_api_bytes_verbatim_exactly_once(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    sink = JSONLSink(tmp_path / "out.jsonl")
    state = f"sqlite:///{sink.index_path}"  # the checkpoint commits with the file's offset
    async with sink:
        report = await collect_into(
            _blueprint(httpserver), sinks=[sink], state=state, pass_through=True
        )
        assert report.pass_through
        assert report.pass_through_refused == []
        assert (report.records, report.stored, report.duplicates) == (100, 100, 0)
        assert _jsonl_data(tmp_path / "out.jsonl") == ALL
        # a record's ordinary reading is unchanged: the same keys and values
        lines = [orjson.loads(x) for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
        assert [line["key"] for line in lines] == [f"events:r{n}" for n in range(100)]
        assert [line["data"] for line in lines] == [orjson.loads(r) for r in ALL]

        again = await collect_into(
            _blueprint(httpserver), sinks=[sink], state=state, pass_through=True
        )
    # the next run asks for the last page again and knows its records (by their digests)
    assert (again.records, again.stored, again.duplicates) == (0, 0, 0)
    assert api.requests[PAGES - 1] == 2
    assert _jsonl_data(tmp_path / "out.jsonl") == ALL


@pytest.mark.parametrize("failing_page", [0, 2, PAGES - 1])
async def test_a_failure_mid_walk_resumes_and_stores_every_record_once(
    httpserver: HTTPServer, api: _API, tmp_path: Path, failing_page: int
) -> None:
    db = tmp_path / "events.db"
    sink = SQLiteSink(db)
    api.fail_at = failing_page
    async with sink, CollectorClient(_blueprint(httpserver)) as client:
        with no_backoff(), pytest.raises(CollectorError) as failed:
            await collect_into(client, sinks=[sink], state=f"sqlite:///{db}", pass_through=True)
        assert failed.value.partial_result.stored == failing_page * PER_PAGE
        api.fail_at = None
        report = await collect_into(
            client, sinks=[sink], state=f"sqlite:///{db}", pass_through=True
        )
    assert report.pass_through
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, data FROM events ORDER BY seq").fetchall()
        deep = conn.execute("SELECT json_extract(data, '$.deep.a[1]') FROM events").fetchall()
    assert [key for key, _ in rows] == [f"events:r{n}" for n in range(100)]
    assert [data.encode() for _, data in rows] == ALL  # the text column holds the API's bytes
    assert deep.count(('{"b":null}',)) == 34  # and SQLite's JSON functions read it


async def test_a_run_decoded_and_a_run_passed_through_share_state_and_keys(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    """The checkpoint of one mode resumes the other: the resumed page's records are known by
    the same digests either way, so nothing is delivered twice when a source switches."""
    db = tmp_path / "events.db"
    async with SQLiteSink(db) as sink:
        first = await collect_into(_blueprint(httpserver), sinks=[sink], state=f"sqlite:///{db}")
        again = await collect_into(
            _blueprint(httpserver), sinks=[sink], state=f"sqlite:///{db}", pass_through=True
        )
    assert not first.pass_through
    assert again.pass_through
    assert (first.stored, again.pages, again.records, again.stored) == (100, 1, 0, 0)


async def test_incremental_fields_are_read_from_raw_records(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    """With the clock at 00:30, the window ends there: the records created later are held
    back by their timestamp — read from the raw bytes the same as from decoded records."""
    inc = IncrementalConfig(
        timestamp_field="created", id_field="id", filter="client", initial_lookback=86400
    )
    clock = FakeClock(start=datetime(2024, 5, 1, 0, 30, tzinfo=UTC).timestamp())
    blueprint = replace(_blueprint(httpserver, incremental=inc), clock=clock)
    reports = {}
    for mode in (False, True):
        db = tmp_path / f"{mode}.db"
        async with SQLiteSink(db) as sink:
            reports[mode] = await collect_into(
                blueprint, sinks=[sink], state=f"sqlite:///{db}", pass_through=mode
            )
    assert reports[True].pass_through
    decoded, raw = reports[False], reports[True]
    assert 0 < raw.stored < 100
    assert (raw.stored, raw.last_state) == (decoded.stored, decoded.last_state)
    with sqlite3.connect(tmp_path / "True.db") as a, sqlite3.connect(tmp_path / "False.db") as b:
        query = "SELECT key, data FROM events ORDER BY key"
        rows_a, rows_b = a.execute(query).fetchall(), b.execute(query).fetchall()
    assert [(k, orjson.loads(d)) for k, d in rows_a] == [(k, orjson.loads(d)) for k, d in rows_b]


async def test_what_needs_whole_records_turns_pass_through_off_and_says_why(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    def tag(record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "tagged": True}

    memory = MemorySink()
    report = await collect_into(
        _blueprint(httpserver),
        sinks=[SQLiteSink(tmp_path / "a.db"), memory],
        state=f"sqlite:///{tmp_path / 'a.db'}",
        pipeline=Pipeline([tag]),
        pass_through=True,
    )
    assert not report.pass_through
    assert report.pass_through_refused == [
        "the pipeline's processors ('tag') read whole records",
        "sink 'memory' (MemorySink) needs decoded records",
    ]
    stored = await memory.query()
    assert len(stored) == 100
    assert all(type(e.data) is dict and e.data["tagged"] for e in stored)


async def test_on_delivered_gets_raw_records_that_decode_whole(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    seen: list[Any] = []
    async with JSONLSink(tmp_path / "o.jsonl") as sink:
        await collect_into(
            _blueprint(httpserver),
            sinks=[sink],
            state=f"sqlite:///{tmp_path / 's.db'}",
            on_delivered=seen.extend,
            pass_through=True,
        )
    assert {type(r) for r in seen} == {RawRecord}
    assert [r["id"] for r in seen] == [f"r{n}" for n in range(100)]
    assert [r.full() for r in seen] == [orjson.loads(r) for r in ALL]


@pytest.mark.integration
def test_s3_objects_hold_the_api_bytes_dated_by_a_decoded_field(
    httpserver: HTTPServer, api: _API, tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    import boto3

    from collectorkit.sinks import S3Sink

    sink = S3Sink(s3_bucket, endpoint_url=s3_endpoint, time_field="created")

    async def run() -> Any:
        async with sink:
            return await collect_into(
                _blueprint(httpserver),
                sinks=[sink],
                state=f"sqlite:///{tmp_path / 's.db'}",
                pass_through=True,
            )

    report = asyncio.run(run())
    assert report.pass_through
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    names = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    objects = [n for n in names if n.endswith(".jsonl.gz")]
    assert objects
    assert all("dt=2024-05-01/" in n for n in objects)  # the time field was read
    data: list[bytes] = []
    for name in objects:
        body = gzip.decompress(s3.get_object(Bucket=s3_bucket, Key=name)["Body"].read())
        for line in body.splitlines():
            head = b'"source":"events","data":'
            data.append(line[line.index(head) + len(head) : -1])
    assert sorted(data) == sorted(ALL)


def test_the_config_option_through_collectorkit_once(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    """``pass_through: true`` in a source's settings: the JSONL file holds the API's bytes; the
    source with a filter is decoded, and the run's log says why."""
    from typer.testing import CliRunner

    from collectorkit.cli._app import app

    base = httpserver.url_for("/").rstrip("/")
    source = """  - name: {name}
    base_url: {base}
    pass_through: true
    request:
      endpoint: /events
      data_path: result.events
      pagination: {{mode: cursor, next_cursor_path: paging.next}}
"""
    config = tmp_path / "c.yaml"
    config.write_text(
        f"state: sqlite:///{tmp_path / 'state.db'}\n"
        "status: {enabled: false}\n"
        f"sinks:\n  - {{type: jsonl, path: '{tmp_path}/{{source}}.jsonl'}}\n"
        "sources:\n"
        + source.format(name="events", base=base)
        + source.format(name="filtered", base=base)
        + "    pipeline:\n      - filter: {expression: \"id != 'r0'\"}\n"
    )
    result = CliRunner().invoke(app, ["once", str(config)])
    assert result.exit_code == 0, result.output
    assert _jsonl_data(tmp_path / "events.jsonl") == ALL
    filtered = (tmp_path / "filtered.jsonl").read_bytes().splitlines()
    assert [orjson.loads(x)["data"] for x in filtered] == [orjson.loads(r) for r in ALL[1:]]
    assert "pass-through is off" in result.output
    assert "the pipeline's processors ('filter') read whole records" in result.output


def test_collect_into_sync_passes_through(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    report = collect_into_sync(
        _blueprint(httpserver),
        sinks=[JSONLSink(out)],
        state=f"sqlite:///{tmp_path / 's.db'}",
        pass_through=True,
    )
    assert report.pass_through
    assert _jsonl_data(out) == ALL
