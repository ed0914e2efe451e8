"""The opensearch sink against a real OpenSearch-compatible server (osmem-server, started by the
session fixture). osmem answers ``create`` conflicts (409) and mapping errors (400) like
OpenSearch, but never refuses an item with 429/5xx: those per-item retries are tested against a
local HTTP server that answers ``_bulk`` the way a busy cluster does."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import ConfigError, Envelope, RetryPolicy, SinkError, record_key
from collectorkit.config._schema import config_json_schema
from collectorkit.sinks import JSONLSink, OpenSearchSink, build_sink

_FAST = RetryPolicy(max_attempts=4, initial_delay=0.01, max_delay=0.02)


def _page(source: str, ids: range, **extra: Any) -> list[Envelope]:
    records = [
        {"id": i, "created_at": f"2026-03-0{1 + i % 2}T10:00:00Z", "n": i, **extra} for i in ids
    ]
    return [Envelope(source, record_key(source, r, ["id"]), r) for r in records]


def _request(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(  # noqa: S310 - the test server on 127.0.0.1
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
        return json.loads(resp.read() or b"{}")


def _docs(url: str, pattern: str) -> dict[str, list[Any]]:
    """Index -> the ids of its documents, as the server holds them."""
    _request(f"{url}/{pattern}/_refresh", "POST")
    found = _request(f"{url}/{pattern}/_search", "POST", {"size": 10000})
    out: dict[str, list[Any]] = {}
    for hit in found["hits"]["hits"]:
        out.setdefault(hit["_index"], []).append(hit["_source"]["id"])
    return {k: sorted(v) for k, v in out.items()}


@pytest.mark.integration
async def test_records_land_in_dated_indices_with_the_key_as_id(
    opensearch_url: str, opensearch_index: str
) -> None:
    sink = OpenSearchSink(
        opensearch_url, index=f"{opensearch_index}-%Y.%m.%d", time_field="created_at"
    )
    async with sink:
        result = await sink.store(_page("xdr", range(6)))
        back = await sink.query()
    assert (result.written, result.duplicates) == (6, 0)
    assert _docs(opensearch_url, f"{opensearch_index}-*") == {
        f"{opensearch_index}-2026.03.01": [0, 2, 4],
        f"{opensearch_index}-2026.03.02": [1, 3, 5],
    }
    assert {e.key for e in back} == {f"xdr:{i}" for i in range(6)}


@pytest.mark.integration
async def test_a_page_stored_again_is_409s_counted_as_duplicates(
    opensearch_url: str, opensearch_index: str
) -> None:
    page = _page("xdr", range(5))
    async with OpenSearchSink(opensearch_url, index=opensearch_index) as sink:
        await sink.store(page[:3])
    # a new process after a crash: the page comes back with two more records
    async with OpenSearchSink(opensearch_url, index=opensearch_index) as sink:
        again = await sink.store(page)
    assert (again.written, again.duplicates) == (2, 3)
    assert _docs(opensearch_url, opensearch_index) == {opensearch_index: [0, 1, 2, 3, 4]}


@pytest.mark.integration
async def test_a_key_longer_than_an_id_may_be_is_hashed_and_still_idempotent(
    opensearch_url: str, opensearch_index: str
) -> None:
    long = Envelope("xdr", "xdr:" + "k" * 600, {"id": "long"})
    async with OpenSearchSink(opensearch_url, index=opensearch_index) as sink:
        first = await sink.store([long])
        again = await sink.store([long])
    assert (first.written, again.duplicates) == (1, 1)
    assert _docs(opensearch_url, opensearch_index) == {opensearch_index: ["long"]}


@pytest.mark.integration
async def test_mapping_conflicts_go_to_dead_letter_with_the_reason(
    opensearch_url: str, opensearch_index: str, tmp_path: Path
) -> None:
    _request(
        f"{opensearch_url}/{opensearch_index}",
        "PUT",
        {"mappings": {"properties": {"n": {"type": "integer"}}}},
    )
    page = _page("xdr", range(3))
    bad = Envelope("xdr", "xdr:bad", {"id": "bad", "n": "not a number"})
    dead = tmp_path / "dead.jsonl"
    sink = build_sink(
        {
            "type": "opensearch",
            "url": opensearch_url,
            "index": opensearch_index,
            "dead_letter": {"type": "jsonl", "path": str(dead)},
        }
    )
    async with sink:
        result = await sink.store([*page, bad])
    assert (result.written, result.duplicates) == (3, 0)
    assert _docs(opensearch_url, opensearch_index) == {opensearch_index: [0, 1, 2]}
    async with JSONLSink(dead) as letters:
        (letter,) = await letters.query()
    assert letter.data["payload"] == {"id": "bad", "n": "not a number"}
    assert "mapper_parsing_exception" in letter.data["reason"]
    assert letter.data["reason"].startswith(f"{opensearch_index}: ")


@pytest.mark.integration
async def test_a_record_without_a_timestamp_for_a_dated_index_goes_to_dead_letter(
    opensearch_url: str, opensearch_index: str
) -> None:
    sink = OpenSearchSink(opensearch_url, index=f"{opensearch_index}-%Y", time_field="created_at")
    async with sink:
        result = await sink.store([*_page("xdr", range(2)), Envelope("xdr", "xdr:x", {"id": 9})])
        (letter,) = await sink.dead_letter.query()
    assert result.written == 2
    assert "no timestamp at 'created_at'" in letter.data["reason"]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, {"Content-Type": "application/json"})


def _bulk_items(request: Request) -> list[dict[str, Any]]:
    import gzip

    body = request.get_data()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    lines = [orjson.loads(x) for x in body.splitlines() if x.strip()]
    return [lines[i]["create"] for i in range(0, len(lines), 2)]


async def test_items_refused_with_429_or_5xx_are_sent_again_alone(
    httpserver: HTTPServer,
) -> None:
    seen: list[list[str]] = []

    def busy(request: Request) -> Response:
        items = _bulk_items(request)
        seen.append([i["_id"] for i in items])
        refused = {"xdr:1": 429, "xdr:2": 503} if len(seen) == 1 else {}
        answer = []
        for item in items:
            status = refused.get(item["_id"], 201)
            error = {"error": {"type": "rejected_execution_exception"}} if status != 201 else {}
            answer.append({"create": {"_id": item["_id"], "status": status, **error}})
        return _json({"errors": bool(refused), "items": answer})

    httpserver.expect_request("/_bulk", method="POST").respond_with_handler(busy)
    async with OpenSearchSink(httpserver.url_for("/"), index="events", retry=_FAST) as sink:
        result = await sink.store(_page("xdr", range(4)))
    assert (result.written, result.duplicates) == (4, 0)
    assert seen == [["xdr:0", "xdr:1", "xdr:2", "xdr:3"], ["xdr:1", "xdr:2"]]


async def test_items_still_refused_after_the_attempts_fail_the_store(
    httpserver: HTTPServer,
) -> None:
    def always_busy(request: Request) -> Response:
        answer = [{"create": {"_id": i["_id"], "status": 503}} for i in _bulk_items(request)]
        return _json({"errors": True, "items": answer})

    httpserver.expect_request("/_bulk", method="POST").respond_with_handler(always_busy)
    sink = OpenSearchSink(httpserver.url_for("/"), index="events", retry=_FAST)
    with pytest.raises(SinkError, match=r"2 record\(s\) still refused after 4 attempts"):
        async with sink:
            await sink.store(_page("xdr", range(2)))
    assert len(httpserver.log) == 4


async def test_a_whole_request_refused_with_429_is_retried_and_a_401_is_not(
    httpserver: HTTPServer,
) -> None:
    calls: list[int] = []

    def answer(request: Request) -> Response:
        calls.append(1)
        if len(calls) == 1:
            return _json({"error": "too many requests"}, 429)
        if request.headers.get("Authorization") != "ApiKey right-api-key-123":
            return _json({"error": "unauthorized"}, 401)
        items = [{"create": {"_id": i["_id"], "status": 201}} for i in _bulk_items(request)]
        return _json({"errors": False, "items": items})

    httpserver.expect_request("/_bulk", method="POST").respond_with_handler(answer)

    async def store(key: str) -> Any:
        sink = OpenSearchSink(httpserver.url_for("/"), index="e", api_key=key, retry=_FAST)
        async with sink:
            return await sink.store(_page("xdr", range(2)))

    assert (await store("right-api-key-123")).written == 2
    with pytest.raises(SinkError) as caught:
        await store("wrong-api-key-456")
    assert "401" in str(caught.value)
    assert "wrong-api-key-456" not in str(caught.value)
    assert len(calls) == 3  # the 401 was not retried


def test_secrets_never_show(httpserver: HTTPServer) -> None:
    sink = build_sink(
        {
            "type": "opensearch",
            "url": httpserver.url_for("/"),
            "username": "elastic",
            "password": "hunter2-password",
        }
    )
    assert "hunter2-password" not in repr(sink)
    assert "hunter2-password" not in sink.location


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"url": "localhost:9200"}, "url"),
        ({"url": "http://x", "index": "Events"}, "index"),
        ({"url": "http://x", "index": "ev-%Y.%m"}, "time_field"),
        ({"url": "http://x", "bulk_size": 0}, "bulk_size"),
    ],
)
def test_bad_options_name_their_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_sink({"type": "opensearch", **options}, path="sinks[1]")
    assert caught.value.path == f"sinks[1].{field}"


def test_a_bad_dead_letter_sink_is_named_by_its_path() -> None:
    spec = {"type": "opensearch", "url": "http://x", "dead_letter": {"type": "nope"}}
    with pytest.raises(ConfigError) as caught:
        build_sink(spec, path="sinks[1]")
    assert caught.value.path == "sinks[1].dead_letter.type"


def test_the_schema_lists_the_opensearch_options() -> None:
    text = orjson.dumps(config_json_schema()).decode()
    for option in ('"opensearch"', "bulk_size", "time_field", "dead_letter", "api_key"):
        assert option in text


@pytest.mark.integration
@pytest.mark.slow
def test_once_sends_refused_documents_to_the_runs_dead_letter(
    opensearch_url: str, opensearch_index: str, tmp_path: Path
) -> None:
    # no dead_letter on the sink, none in the file: refused documents reach the default file
    import os
    import subprocess
    import sys

    from collectorkit.simulator import build_config
    from tests.evidence._support import generic_source, timed_simulator, write_config

    _request(
        f"{opensearch_url}/{opensearch_index}",
        "PUT",
        {"mappings": {"properties": {"severity": {"type": "integer"}}}},
    )
    with timed_simulator(build_config(seed=21, profiles=["generic"], records=30)) as (sim, _):
        config = {
            "state": f"sqlite:///{tmp_path / 'state.db'}",
            "sinks": [{"type": "opensearch", "url": opensearch_url, "index": opensearch_index}],
            "status": {"enabled": False},
            "sources": [generic_source("os_src", sim.url("generic"), limit=10)],
        }
        path = write_config(tmp_path / "ck.yaml", config)
        env = {**os.environ, "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"]}
        done = subprocess.run(
            [sys.executable, "-m", "collectorkit", "once", str(path)],
            env={**env, "NO_COLOR": "1", "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        existing = sim.ledger.existing("generic")
    dead = tmp_path / "collectorkit-dead-letter.jsonl"
    assert dead.exists(), done.stdout + done.stderr
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert {row["data"]["payload"]["id"] for row in letters} == existing
    assert all("mapper_parsing_exception" in row["data"]["reason"] for row in letters)
