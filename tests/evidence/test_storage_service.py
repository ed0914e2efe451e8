"""The storage service under schemathesis: every operation of its OpenAPI document, with
generated (valid and invalid) paths, queries and bodies, sent over real HTTP to uvicorn serving
a SQLite store, never answers 5xx. Every protected operation refuses a request without the
bearer token, or with a wrong one (401), and the token is not echoed back."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from collectorkit import ConfigError, FakeClock
from collectorkit.service import create_app, run_storage_service
from collectorkit.state import MemoryStateStore, SQLiteStateStore
from collectorkit.typing import StateStore

pytestmark = pytest.mark.integration

TOKEN = "evidence-service-token-5b1f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OPENAPI: dict[str, Any] = create_app(MemoryStateStore(), token=TOKEN).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
PUBLIC = {"/health", "/healthz", "/ready", "/openapi.json", "/docs", "/redoc"}


class _Service:
    """The service on a free port, served from its own thread and event loop."""

    def __init__(self, db: Path) -> None:
        self.url = ""
        self._db = db
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        store = SQLiteStateStore(self._db)
        try:
            async with run_storage_service(store, token=TOKEN) as url:
                self.url = url
                self._ready.set()
                await self._stop.wait()
        finally:
            await store.aclose()
            self._ready.set()

    def __enter__(self) -> _Service:
        self._thread.start()
        assert self._ready.wait(20), "the storage service did not start"
        assert self.url, "the storage service stopped during startup"
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _Service(tmp_path_factory.mktemp("service") / "state.db") as service:
        yield service.url


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_answers_5xx(case: Any, service_url: str) -> None:
    response = case.call(base_url=service_url, headers=AUTH, timeout=10)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    assert TOKEN not in response.text


def _operations() -> list[tuple[str, str]]:
    verbs = {"get", "put", "post", "delete", "patch"}
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, item in OPENAPI["paths"].items()
        for method in item
        if method in verbs
    ]


def test_protected_operations_refuse_missing_or_wrong_tokens(service_url: str) -> None:
    refused = 0
    with httpx2.Client(base_url=service_url, timeout=10) as http:
        for method, path in _operations():
            if path in PUBLIC:
                continue
            body = {"value": {"a": 1}} if method in {"PUT", "POST", "PATCH"} else None
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                response = http.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert TOKEN not in response.text
                refused += 1
    assert refused >= 3 * 6, f"only {refused} refusals: is every operation protected?"


# --- attacks of the hardening round: each failed on the service before its fix -----------------

WM = "/api/v1/watermarks"
NOW = 1_704_110_400.0 + 3600  # 2024-01-01T13:00:00Z


@asynccontextmanager
async def _served(
    store: StateStore | None = None, **options: Any
) -> AsyncIterator[httpx2.AsyncClient]:
    """The service on a free port over ``store`` (memory by default), and a client of it."""
    store = store or MemoryStateStore()
    options.setdefault("clock", FakeClock(start=NOW))
    try:
        async with (
            run_storage_service(store, token=TOKEN, **options) as url,
            httpx2.AsyncClient(base_url=url, headers=AUTH, timeout=10) as http,
        ):
            yield http
    finally:
        await store.aclose()


async def test_a_far_future_watermark_is_refused_naming_the_field() -> None:
    async with _served() as http:
        body = {"timestamp": "2099-01-01T00:00:00Z", "status": "success"}
        refused = await http.put(f"{WM}/pinned", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "timestamp"
        assert "2099-01-01T00:00:00Z is " in refused.json()["detail"]
        assert "in the future" in refused.json()["detail"]
        assert (await http.get(f"{WM}/pinned")).status_code == 404
        soon = {"timestamp": "2024-01-01T13:30:00Z", "status": "success"}
        assert (await http.put(f"{WM}/pinned", json=soon)).status_code == 201
    async with _served(max_future=100 * 365 * 86_400) as http:  # the tolerance is an option
        assert (await http.put(f"{WM}/pinned", json=body)).status_code == 201


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_timestamps_past_the_calendar_are_4xx(stamp: str) -> None:
    async with _served() as http:
        response = await http.put(f"{WM}/src", json={"timestamp": stamp, "status": "success"})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "timestamp"


async def test_nan_in_a_state_value_is_refused_not_stored_as_null() -> None:
    async with _served() as http:
        for text in (b'{"value": {"a": NaN}}', b'{"value": {"a": [1, {"b": Infinity}]}}'):
            headers = {"Content-Type": "application/json"}
            response = await http.put("/api/v1/state/ns/k", content=text, headers=headers)
            assert response.status_code == 422, response.text
            assert "not a finite number" in response.json()["detail"]
        assert (await http.get("/api/v1/state/ns/k")).status_code == 404


async def test_a_lowercase_bearer_scheme_is_accepted() -> None:
    async with _served() as http:
        for scheme in ("bearer", "BEARER", "Bearer"):
            headers = {"Authorization": f"{scheme} {TOKEN}"}
            assert (await http.get(WM, headers=headers)).status_code == 200, scheme


@pytest.mark.parametrize("token", ["", " ", " " * 20, "short", "fifteen-chars!!"])
async def test_weak_or_blank_tokens_are_refused_at_start(token: str) -> None:
    with pytest.raises(ConfigError, match=r"^token: .*at least 16 characters") as caught:
        create_app(MemoryStateStore(), token=token)
    if token.strip():
        assert token not in str(caught.value)
    with pytest.raises(ConfigError, match="at least 16 characters"):
        async with run_storage_service(MemoryStateStore(), token=token):
            pass


async def test_one_malformed_watermark_does_not_break_the_list_or_status() -> None:
    store = MemoryStateStore()
    await store.put("watermarks", "broken", {"x": 1})
    async with _served(store) as http:
        body = {"timestamp": "2024-01-01T12:00:00Z", "status": "success"}
        assert (await http.put(f"{WM}/good", json=body)).status_code == 201
        listed = await http.get(WM)
        assert listed.status_code == 200, listed.text
        assert [w["source_id"] for w in listed.json()["watermarks"]] == ["good"]
        assert listed.json()["malformed"] == [
            {"source_id": "broken", "reason": "malformed watermark record: 'source_id' is missing"}
        ]
        status = await http.get("/status")
        assert status.status_code == 200, status.text
        assert status.json()["store_reachable"] is True
        assert status.json()["status"] == "degraded"
        assert status.json()["malformed_watermarks"] == ["broken"]
        assert status.json()["watermarks"] == 1
        assert "collectorkit_storage_malformed_watermarks 1.0" in (await http.get("/metrics")).text


async def test_concurrent_puts_of_one_watermark_all_succeed(tmp_path: Path) -> None:
    async with _served(SQLiteStateStore(tmp_path / "s.db")) as http:

        async def put(second: int) -> int:
            body = {"timestamp": f"2024-01-01T12:00:{second:02d}Z", "status": "success"}
            return (await http.put(f"{WM}/busy", json=body)).status_code

        codes = await asyncio.gather(*(put(i) for i in range(50)))
        assert sorted(set(codes)) == [200, 201], codes
        assert codes.count(201) == 1
        final = (await http.get(f"{WM}/busy")).json()
        assert final["last_successful_timestamp"] == "2024-01-01T12:00:49Z"


async def test_the_openapi_422_schema_matches_the_bodies_returned() -> None:
    document = create_app(MemoryStateStore(), token=TOKEN).openapi()
    async with _served() as http:
        answers = [
            ("put", "/api/v1/watermarks/{source_id}", await http.put(f"{WM}/x", json={})),
            (
                "put",
                "/api/v1/watermarks/{source_id}",
                await http.put(f"{WM}/x", json={"timestamp": "soon", "status": "success"}),
            ),
            (
                "put",
                "/api/v1/state/{namespace}/{key}",
                await http.put("/api/v1/state/ns/k", json={"value": 3}),
            ),
            ("get", "/api/v1/state/{namespace}", await http.get("/api/v1/state/bad%20ns")),
        ]
    for method, path, response in answers:
        assert response.status_code == 422, (path, response.text)
        schema = document["paths"][path][method]["responses"]["422"]["content"]
        described = {**schema["application/json"]["schema"], "components": document["components"]}
        jsonschema.validate(response.json(), described)
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_slow_header_connections_are_closed() -> None:
    """A client that trickles its request headers (slowloris) is cut off at the deadline."""
    async with _served(header_timeout=1.0) as http:
        host, port = http.base_url.host, http.base_url.port
        reader, writer = await asyncio.open_connection(host, port)
        started = time.monotonic()
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        closed_after = None
        for _ in range(40):  # at most 40 x 0.1 s of trickling
            writer.write(b"X")
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1024), 0.1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
        writer.close()
        assert closed_after is not None, "the connection was still open after 4 s"
        assert closed_after < 2.5
        assert (await http.get("/health")).status_code == 200  # a normal client is served


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_deleted_or_replaced_sqlite_file_fails_loudly(tmp_path: Path, how: str) -> None:
    path = tmp_path / "storage.db"
    async with _served(SQLiteStateStore(path)) as http:
        body = {"timestamp": "2024-01-01T12:00:00Z", "status": "success"}
        assert (await http.put(f"{WM}/src", json=body)).status_code == 201
        assert (await http.get("/health")).status_code == 200
        for name in ("storage.db", "storage.db-wal", "storage.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        if how == "replaced":
            path.write_bytes(b"")
        health = await http.get("/health")
        assert health.status_code == 503, health.text
        assert str(path) in health.json()["detail"]
        assert how in health.json()["detail"]
        write = await http.put(f"{WM}/src", json=body)
        assert write.status_code == 503, write.text
        assert how in write.json()["detail"]
        assert str(path) in write.json()["detail"]
        status = await http.get("/status")
        assert status.status_code == 503
        assert status.json()["store_reachable"] is False
