"""The storage service under schemathesis: every operation of its OpenAPI document, with
generated (valid and invalid) paths, queries and bodies, sent over real HTTP to uvicorn serving
a SQLite store, never answers 5xx. Every protected operation refuses a request without the
bearer token, or with a wrong one (401), and the token is not echoed back."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from collectorkit.service import create_app, run_storage_service
from collectorkit.state import MemoryStateStore, SQLiteStateStore

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
