"""Crash tests: a collection into each durable sink is killed (SIGKILL) at random points and
resumed; afterwards every record the server served is stored exactly once, every malformed record
is in the dead-letter sink exactly once, and the saved state is readable.

The worker is a real subprocess collecting over HTTP from a small deterministic paginated server
(run by the test) with the delivery loop, resuming from the state it saved.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

PAGES = 80
PER_PAGE = 25
KILLS = 16
BAD_EVERY = 37  # every 37th record has no id: it must land in dead-letter, once

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys

    import aiohttp

    from collectorkit.pipeline import JSONValidationProcessor, Pipeline
    from collectorkit.delivery._loop import deliver
    from collectorkit.sinks import (
        JSONFileSink, JSONLSink, PostgresSink, RedisStreamSink, SQLiteSink,
    )
    from collectorkit.state import PostgresStateStore, RedisStateStore, SQLiteStateStore

    kind, url, root, server = sys.argv[1:5]


    class Page:
        def __init__(self, events, state):
            self.events, self.state = events, state


    def build():
        if kind == "sqlite":
            sink = SQLiteSink(f"{root}/events.db")
            return sink, SQLiteStateStore(f"{root}/events.db"), sink
        if kind == "jsonl":
            sink = JSONLSink(f"{root}/out/{{source}}.jsonl", max_bytes=20_000)
            return sink, SQLiteStateStore(sink.index_path), sink
        if kind == "json_files":
            return JSONFileSink(f"{root}/alerts"), SQLiteStateStore(f"{root}/state.db"), None
        if kind == "postgres":
            sink = PostgresSink(server)
            return sink, PostgresStateStore(server), sink
        sink = RedisStreamSink(server, stream="crash:events")
        return sink, RedisStateStore(server), sink


    async def pages(session, cursor):
        while cursor is not None:
            async with session.get(url, params={"cursor": str(cursor)}) as response:
                body = await response.json()
            print("page", flush=True)  # the test kills somewhere in this page's delivery
            yield Page(body["data"], {"cursor": body["next"]})
            cursor = body["next"]


    async def main():
        sink, store, checkpoint_sink = build()
        dead = JSONLSink(f"{root}/dead.jsonl")
        await sink.connect()
        saved = await store.get("collector_state", "crash")
        cursor = 0 if saved is None else saved.value["cursor"]
        print("ready", flush=True)
        if cursor is not None:
            async with aiohttp.ClientSession() as session:
                await deliver(
                    pages(session, cursor),
                    source="crash",
                    sinks=[sink],
                    key_fields=["id"],
                    pipeline=Pipeline([JSONValidationProcessor(required_fields=["id"])]),
                    dead_letter=dead,
                    state_store=None if checkpoint_sink else store,
                    checkpoint_sink=checkpoint_sink,
                )
        await sink.aclose()
        await dead.aclose()
        await store.aclose()
        print("done", flush=True)


    asyncio.run(main())
    """
)


def _record(n: int) -> dict[str, Any]:
    if n % BAD_EVERY == 0:
        return {"n": n, "note": "no id"}
    return {"id": f"evt-{n}", "n": n, "severity": ["low", "high"][n % 2]}


def _serve(request: Request) -> Response:
    cursor = int(request.args["cursor"])
    data = [_record(cursor * PER_PAGE + i) for i in range(PER_PAGE)]
    body = {"data": data, "next": cursor + 1 if cursor + 1 < PAGES else None}
    return Response(orjson.dumps(body), content_type="application/json")


ALL = range(PAGES * PER_PAGE)
GOOD = {f"evt-{n}" for n in ALL if n % BAD_EVERY}
BAD = {n for n in ALL if n % BAD_EVERY == 0}


def _start(argv: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)


def _run_with_kills(argv: list[str], seed: str) -> int:
    """Start the worker KILLS times; kill each after 0-4 pages plus a random few milliseconds,
    i.e. anywhere in fetching, processing, storing or checkpointing a page."""
    rng = random.Random(seed)
    kills = 0
    for _ in range(KILLS):
        proc = _start(argv)
        assert proc.stdout is not None
        ready = proc.stdout.readline().strip()
        assert ready == "ready", f"worker did not start: {ready!r}"
        for _ in range(rng.randint(0, 4)):
            if proc.stdout.readline().strip() != "page":
                break
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.006))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        proc.stdout.close()
    return kills


def _finish(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split()
    assert (lines[0], lines[-1]) == ("ready", "done")


def _stored_ids(kind: str, root: Path, server: str) -> list[str]:
    """Every stored record's id, read from the storage itself (duplicates would show)."""
    if kind == "sqlite":
        import sqlite3

        with sqlite3.connect(root / "events.db") as db:
            rows = db.execute("SELECT data FROM events").fetchall()
        return [json.loads(r[0])["id"] for r in rows]
    if kind == "jsonl":
        lines = b"".join(p.read_bytes() for p in sorted((root / "out").glob("*.jsonl")))
        return [orjson.loads(x)["data"]["id"] for x in lines.splitlines()]
    if kind == "json_files":
        return [orjson.loads(p.read_bytes())["id"] for p in (root / "alerts").glob("*.json")]
    if kind == "postgres":
        import psycopg

        with psycopg.connect(server) as conn:
            rows = conn.execute("SELECT data->>'id' FROM collectorkit_events").fetchall()
        return [r[0] for r in rows]
    import redis

    client = redis.Redis.from_url(server)
    try:
        entries = client.xrange("crash:events")
    finally:
        client.close()
    return [orjson.loads(fields[b"data"])["id"] for _, fields in entries]


def _state(kind: str, root: Path, server: str) -> Any:
    import asyncio

    from collectorkit.state import PostgresStateStore, RedisStateStore, SQLiteStateStore

    async def read() -> Any:
        store: Any
        if kind == "sqlite":
            store = SQLiteStateStore(root / "events.db")
        elif kind == "jsonl":
            store = SQLiteStateStore(root / "out" / ".collectorkit-jsonl.db")
        elif kind == "json_files":
            store = SQLiteStateStore(root / "state.db")
        elif kind == "postgres":
            store = PostgresStateStore(server)
        else:
            store = RedisStateStore(server)
        try:
            return await store.get("collector_state", "crash")
        finally:
            await store.aclose()

    return asyncio.run(read())


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", ["sqlite", "jsonl", "json_files", "postgres", "redis"])
def test_killed_collection_resumes_with_every_record_exactly_once(
    kind: str, tmp_path: Path, httpserver: HTTPServer, request: pytest.FixtureRequest
) -> None:
    server = ""
    if kind == "postgres":
        server = request.getfixturevalue("postgres_fresh_url")
    elif kind == "redis":
        server = request.getfixturevalue("redis_fresh_url")
    httpserver.expect_request("/events").respond_with_handler(_serve)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    argv = [sys.executable, str(script), kind, httpserver.url_for("/events"), str(tmp_path), server]

    kills = _run_with_kills(argv, seed=kind)
    _finish(argv)

    assert kills >= KILLS // 2, f"only {kills} runs were killed mid-collection"
    stored = Counter(_stored_ids(kind, tmp_path, server))
    assert {k for k, c in stored.items() if c > 1} == set()
    assert set(stored) == GOOD
    dead = [orjson.loads(x)["data"] for x in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    assert sorted(d["payload"]["n"] for d in dead) == sorted(BAD)
    assert {d["reason"] for d in dead} == {"Missing required fields: ['id']"}
    saved = _state(kind, tmp_path, server)
    assert saved is not None
    assert dict(saved.value) == {"cursor": None}
