"""Helpers shared by the evidence suites: a simulator that timestamps every request, daemon
configurations against it, readers of what each sink stored (straight from storage, so a
duplicate would show) and of a source's saved state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from collectorkit.simulator import SimulatorConfig, SimulatorServer

__all__ = [
    "RequestLog",
    "SeenRequest",
    "generic_source",
    "read_state",
    "stored_ids",
    "timed_simulator",
    "write_config",
]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request the simulator answered: when it arrived (monotonic), what, and the status."""

    at: float
    method: str
    path: str
    query: str
    status: int
    credential: str = ""
    """The ``Authorization`` / ``X-API-Key`` header value the request carried."""


@dataclass
class RequestLog:
    """Every request the wrapped simulator saw, in arrival order (thread-safe)."""

    entries: list[SeenRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def logged(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            at = time.monotonic()
            status = [0]
            headers = dict(scope.get("headers") or [])
            credential = headers.get(b"authorization") or headers.get(b"x-api-key") or b""

            async def watch(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status[0] = int(message["status"])
                await send(message)

            try:
                await app(scope, receive, watch)
            finally:
                seen = SeenRequest(
                    at,
                    scope["method"],
                    scope["path"],
                    scope.get("query_string", b"").decode("latin-1"),
                    status[0],
                    credential.decode("latin-1"),
                )
                with self._lock:
                    self.entries.append(seen)

        return logged

    def for_path(self, suffix: str) -> list[SeenRequest]:
        with self._lock:
            return [e for e in self.entries if e.path.endswith(suffix)]


@contextlib.contextmanager
def timed_simulator(config: SimulatorConfig) -> Iterator[tuple[SimulatorServer, RequestLog]]:
    """The simulator on a free port, every request it answers timestamped in the log."""
    server = SimulatorServer(config)
    log = RequestLog()
    server.app = log.wrap(server.app)
    with server:
        yield server, log


def generic_source(
    name: str,
    base_url: str,
    *,
    token: str = "${EVIDENCE_GENERIC_TOKEN}",  # noqa: S107 - an env reference
    limit: int = 50,
    interval: str = "1s",
    **extra: Any,
) -> dict[str, Any]:
    """A source over the simulator's generic ``/v1/events`` (cursor paging, incremental)."""
    return {
        "name": name,
        "base_url": base_url,
        "auth": {"type": "bearer", "token": token},
        "interval": interval,
        "request": {
            "endpoint": "/v1/events",
            "params": {"limit": limit},
            "data_path": "data.events",
            "pagination": {
                "mode": "cursor",
                "cursor_param": "cursor",
                "next_cursor_path": "meta.next_cursor",
            },
            "incremental": {"timestamp_field": "created_at", "start_param": "since"},
        },
        **extra,
    }


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def stored_ids(kind: str, where: str | Path, source: str | None = None) -> list[str]:
    """The ``id`` of every record a sink holds, read from the storage itself."""
    if kind == "sqlite":
        if not Path(where).exists():
            return []
        with contextlib.closing(sqlite3.connect(where)) as db:
            try:
                rows = db.execute("SELECT source, data FROM events").fetchall()
            except sqlite3.OperationalError:
                return []
        return [json.loads(d)["id"] for s, d in rows if source is None or s == source]
    if kind == "jsonl":
        out: list[str] = []
        for file in sorted(Path(where).glob("*.jsonl")):
            data = file.read_bytes()
            # a line a SIGKILL cut short is no record: the sink truncates it away on its next
            # start (read between a kill and a restart, the file may end in one)
            for line in data[: data.rfind(b"\n") + 1].splitlines():
                row = orjson.loads(line)
                if source is None or row["source"] == source:
                    out.append(row["data"]["id"])
        return out
    if kind == "postgres":
        import psycopg

        with psycopg.connect(str(where)) as conn:
            exists = conn.execute("SELECT to_regclass('collectorkit_events')").fetchone()
            if exists is None or exists[0] is None:
                return []
            rows = conn.execute("SELECT source, data->>'id' FROM collectorkit_events").fetchall()
        return [r[1] for r in rows if source is None or r[0] == source]
    raise ValueError(kind)


def read_state(state_url: str, source: str) -> Any:
    """The source's saved state through the state store: must always load (a SQLite state file
    must also pass its integrity check)."""
    from collectorkit.state import open_state_store

    async def read() -> Any:
        store = await open_state_store(state_url)
        try:
            return await store.get("collector_state", source)
        finally:
            await store.aclose()

    if state_url.startswith("sqlite:///"):
        path = state_url.removeprefix("sqlite:///")
        if Path(path).exists():
            with contextlib.closing(sqlite3.connect(path)) as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    return asyncio.run(read())
