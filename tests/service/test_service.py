"""The storage service over real HTTP (uvicorn on 127.0.0.1, a free port)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pytest_httpserver import HTTPServer

from collectorkit import (
    AuthenticationError,
    ConfigError,
    FakeClock,
    StateStoreUnavailableError,
)
from collectorkit.service import check_bind, run_storage_service, serve_async
from collectorkit.state import (
    MemoryStateStore,
    RedisStateStore,
    SQLiteStateStore,
    StorageServiceClient,
)
from tests._servers import free_port

TOKEN = "s3cret-token-value"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_704_110_400.0 + 3600)  # 2024-01-01T13:00:00Z


@pytest.fixture
async def service(clock: FakeClock) -> AsyncIterator[str]:
    store = MemoryStateStore(clock=clock)
    async with run_storage_service(store, token=TOKEN, clock=clock) as url:
        yield url


@pytest.fixture
async def http(service: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=service) as client:
        yield client


async def test_auth_is_required_and_enforced(http: httpx2.AsyncClient) -> None:
    assert (await http.get("/health")).json() == {"status": "healthy"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = await http.get("/api/v1/watermarks/x", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in response.text
    for path in ("/status", "/metrics", "/api/v1/watermarks", "/api/v1/state/ns"):
        assert (await http.get(path)).status_code == 401, path
        assert (await http.get(path, headers=AUTH)).status_code == 200, path


async def test_first_run_404_then_round_trip(http: httpx2.AsyncClient) -> None:
    missing = await http.get("/api/v1/watermarks/alienvault_otx", headers=AUTH)
    assert missing.status_code == 404
    assert "first run" in missing.json()["detail"]

    body = {"timestamp": "2024-01-01T12:00:00Z", "status": "success", "error_message": None}
    created = await http.put("/api/v1/watermarks/alienvault_otx", json=body, headers=AUTH)
    assert created.status_code == 201
    expected = {
        "source_id": "alienvault_otx",
        "last_successful_timestamp": "2024-01-01T12:00:00Z",
        "last_run_timestamp": "2024-01-01T13:00:00Z",
        "status": "success",
        "records_collected": 0,
        "error_message": None,
    }
    assert created.json() == expected
    fetched = await http.get("/api/v1/watermarks/alienvault_otx", headers=AUTH)
    assert (fetched.status_code, fetched.json()) == (200, expected)

    failed = {"status": "failed", "error_message": "upstream 503"}
    updated = await http.put("/api/v1/watermarks/alienvault_otx", json=failed, headers=AUTH)
    assert updated.status_code == 200
    assert updated.json()["last_successful_timestamp"] == "2024-01-01T12:00:00Z"
    assert updated.json()["error_message"] == "upstream 503"


async def test_list_status_and_metrics(http: httpx2.AsyncClient, clock: FakeClock) -> None:
    for source, stamp, status in (
        ("a", "2024-01-01T12:00:00Z", "success"),
        ("b", "2024-01-01T12:30:00Z", "success"),
        ("b", None, "failed"),
    ):
        body = {"timestamp": stamp, "status": status}
        assert (await http.put(f"/api/v1/watermarks/{source}", json=body, headers=AUTH)).is_success
    listed = (await http.get("/api/v1/watermarks", headers=AUTH)).json()
    assert listed["count"] == 2
    assert [(w["source_id"], w["age_seconds"]) for w in listed["watermarks"]] == [
        ("a", 3600.0),
        ("b", 1800.0),
    ]
    status = (await http.get("/status", headers=AUTH)).json()
    assert status["store_reachable"] is True
    assert status["watermarks"] == 2
    assert status["failed_sources"] == ["b"]
    assert status["oldest_watermark_age_seconds"] == 3600.0
    metrics = (await http.get("/metrics", headers=AUTH)).text
    assert "collectorkit_storage_watermarks 2.0" in metrics
    assert "collectorkit_storage_oldest_watermark_age_seconds 3600.0" in metrics
    assert 'collectorkit_storage_watermark_age_seconds{source_id="b"} 1800.0' in metrics
    assert (
        'collectorkit_storage_requests_total{method="PUT",'
        'route="/api/v1/watermarks/{source_id:path}",status="201"} 2.0'
    ) in metrics
    deleted = await http.delete("/api/v1/watermarks/a", headers=AUTH)
    assert deleted.json() == {"deleted": True}
    assert (await http.delete("/api/v1/watermarks/a", headers=AUTH)).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (
            {"timestamp": "yesterday", "status": "success"},
            422,
            "timestamp: not a timestamp: 'yesterday'",
        ),
        ({"timestamp": "2024-01-01T00:00:00Z", "status": "done"}, 422, "unknown status 'done'"),
        ({"status": "success"}, 422, "timestamp: required"),
        ({"timestamp": "2024-01-01T00:00:00Z"}, 422, "body.status: Field required"),
        ({"timestamp": "2024-01-01T00:00:00Z", "status": "success", "extra": 1}, 422, "body.extra"),
        (
            {"timestamp": "2024-01-01T00:00:00Z", "status": "success", "records_collected": -5},
            422,
            "body.records_collected",
        ),
        ({"status": "failed", "error_message": "x" * 100_000}, 413, "limit is 65536 bytes"),
    ],
)
async def test_validation_errors_are_clear_4xx(
    http: httpx2.AsyncClient, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = await http.put("/api/v1/watermarks/src", json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]


async def test_malformed_json_and_streamed_oversized_bodies(http: httpx2.AsyncClient) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    broken = await http.put("/api/v1/watermarks/src", content=b"{not json", headers=headers)
    assert broken.status_code == 422
    assert "invalid request" in broken.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    streamed = await http.put("/api/v1/state/ns/k", content=chunks(), headers=headers)
    assert streamed.status_code == 413


async def test_generic_state_endpoints_conflict_is_409(http: httpx2.AsyncClient) -> None:
    put = await http.put("/api/v1/state/ns/a/b", json={"value": {"x": 1}}, headers=AUTH)
    assert put.json() == {"version": 1}
    conflict = await http.put(
        "/api/v1/state/ns/a/b", json={"value": {"x": 2}, "if_version": 0}, headers=AUTH
    )
    assert conflict.status_code == 409
    assert "expected no value, found version 1" in conflict.json()["detail"]
    bad_ns = await http.get("/api/v1/state/bad%20ns", headers=AUTH)
    assert bad_ns.status_code == 422
    assert bad_ns.json()["field"] == "namespace"


async def test_openapi_documents_the_endpoints_and_bearer_auth(http: httpx2.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    paths = document["paths"]
    assert {"get", "put", "delete"} <= set(paths["/api/v1/watermarks/{source_id}"])
    assert "/api/v1/watermarks" in paths
    assert "/health" in paths
    assert "/status" in paths
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_client_round_trip_and_auth_error(service: str, clock: FakeClock) -> None:
    async with StorageServiceClient(service, token=TOKEN) as client:
        assert await client.health_check() is True
        assert await client.get_watermark("otx") is None
        from datetime import datetime

        record = await client.update_watermark(
            "otx", timestamp=datetime(2024, 1, 1, 12), status="success", records_collected=3
        )
        assert record["records_collected"] == 3
        assert await client.get_watermark("otx") == record
        assert [w.source_id for w in await client.list_watermarks()] == ["otx"]
        assert await client.delete_watermark("otx") is True
        assert await client.delete_watermark("otx") is False
    async with StorageServiceClient(service, token="wrong") as client:
        with pytest.raises(AuthenticationError, match="refused the credentials") as caught:
            await client.get_watermark("otx")
        assert "wrong" not in str(caught.value)


async def test_client_retries_then_says_the_service_is_down() -> None:
    clock = FakeClock()
    url = f"http://127.0.0.1:{free_port()}"
    async with StorageServiceClient(url, retries=3, backoff=0.5, clock=clock) as client:
        assert await client.health_check() is False
        with pytest.raises(StateStoreUnavailableError, match="unreachable after 4 attempt") as e:
            await client.get_watermark("x")
    assert url in str(e.value)
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_client_retries_503_and_succeeds(httpserver: HTTPServer) -> None:
    body = {
        "source_id": "x",
        "last_successful_timestamp": "2024-01-01T12:00:00Z",
        "last_run_timestamp": "2024-01-01T12:05:00Z",
        "status": "success",
        "records_collected": 1,
        "error_message": None,
    }
    httpserver.expect_ordered_request("/api/v1/watermarks/x").respond_with_data("busy", 503)
    httpserver.expect_ordered_request("/api/v1/watermarks/x").respond_with_json(body)
    clock = FakeClock()
    async with StorageServiceClient(httpserver.url_for("/"), clock=clock) as client:
        record = await client.get_watermark("x")
    assert record is not None
    assert record.to_json() == body
    assert clock.sleeps == [0.2]


def test_non_loopback_bind_needs_a_token() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(host, None)
    check_bind("0.0.0.0", "tok")  # noqa: S104 - this is the bind being checked
    with pytest.raises(ConfigError, match=r"refusing to listen on '0\.0\.0\.0' without"):
        check_bind("0.0.0.0", None)  # noqa: S104


async def test_serve_refuses_open_network_bind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STORAGE_SERVICE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="token"):
        await serve_async("0.0.0.0", 0, f"sqlite:///{tmp_path}/s.db")  # noqa: S104
    with pytest.raises(ConfigError, match="token"):
        async with run_storage_service(MemoryStateStore(), host="0.0.0.0"):  # noqa: S104
            pass


async def test_restart_keeps_sqlite_data(tmp_path: Path) -> None:
    path = tmp_path / "storage.db"
    store = SQLiteStateStore(path)
    async with run_storage_service(store) as url, StorageServiceClient(url) as client:
        await client.update_watermark("src", "2024-01-01T12:00:00Z", "success")
    await store.aclose()
    store = SQLiteStateStore(path)
    async with run_storage_service(store) as url, StorageServiceClient(url) as client:
        record = await client.get_watermark("src")
    await store.aclose()
    assert record is not None
    assert record["last_successful_timestamp"].isoformat() == "2024-01-01T12:00:00+00:00"


async def test_store_down_is_503_and_the_client_says_so() -> None:
    store = RedisStateStore(f"redis://:hunter2@127.0.0.1:{free_port()}/0", connect_timeout=1)
    async with run_storage_service(store) as url:
        async with httpx2.AsyncClient(base_url=url) as http:
            status = await http.get("/status")
            assert status.status_code == 503
            assert status.json()["store_reachable"] is False
            missing = await http.get("/api/v1/watermarks/src")
            assert missing.status_code == 503
            assert "state store unavailable" in missing.json()["detail"]
            assert "hunter2" not in missing.text
        clock = FakeClock()
        async with StorageServiceClient(url, retries=2, clock=clock) as client:
            with pytest.raises(StateStoreUnavailableError, match="after 3 attempt"):
                await client.get_watermark("src")
        assert clock.sleeps == [0.2, 0.4]
    await store.aclose()


def test_serve_in_its_own_process_keeps_data_across_restarts(tmp_path: Path) -> None:
    """``serve()`` as ``collectorkit serve-storage`` runs it: a process, a port, a SQLite file."""
    import subprocess
    import sys
    import time

    def start() -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        code = (
            "from collectorkit.service import serve; "
            f"serve('127.0.0.1', {port}, 'sqlite:///{tmp_path}/storage.db', '{TOKEN}')"
        )
        process = subprocess.Popen([sys.executable, "-c", code])
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{url}/health").status_code == 200:
                    return process, url
            except httpx2.TransportError:
                time.sleep(0.05)
        process.kill()
        raise AssertionError("serve() did not start")

    def stop(process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        process.wait(timeout=15)

    body = {"timestamp": "2024-01-01T12:00:00Z", "status": "success", "records_collected": 7}
    process, url = start()
    try:
        assert httpx2.put(f"{url}/api/v1/watermarks/src", json=body).status_code == 401
        created = httpx2.put(f"{url}/api/v1/watermarks/src", json=body, headers=AUTH)
        assert created.status_code == 201
    finally:
        stop(process)
    process, url = start()
    try:
        again = httpx2.get(f"{url}/api/v1/watermarks/src", headers=AUTH)
    finally:
        stop(process)
    assert again.status_code == 200
    assert again.json()["records_collected"] == 7
    assert again.json()["last_successful_timestamp"] == "2024-01-01T12:00:00Z"


async def test_open_state_store_checks_the_token_at_start(service: str) -> None:
    from collectorkit.state import open_state_store

    store = await open_state_store(service, token=TOKEN)
    assert isinstance(store, StorageServiceClient)
    await store.aclose()
    with pytest.raises(AuthenticationError, match="refused the credentials"):
        await open_state_store(service, token="wrong", fallback_to_memory=True)


def test_serve_storage_command_refuses_a_blank_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from collectorkit.cli._app import app

    monkeypatch.delenv("STORAGE_SERVICE_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve-storage", "--port", "1", "--token", " "])
    assert result.exit_code == 2
    assert "token: a bearer token must be at least 16 characters" in result.output
    assert "Traceback" not in result.output


def test_serve_storage_command_reads_max_future_as_a_duration() -> None:
    from typer.testing import CliRunner

    from collectorkit.cli._app import app

    runner = CliRunner()
    result = runner.invoke(app, ["serve-storage", "--port", "1", "--max-future", "soon"])
    assert result.exit_code == 2
    assert "--max-future: " in result.output
    assert "Traceback" not in result.output
    assert "--max-future" in runner.invoke(app, ["serve-storage", "--help"]).output
