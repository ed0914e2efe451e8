"""Real local HTTP servers (pytest-httpserver on 127.0.0.1) and a fake clock for the HTTP tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from collectorkit.testing import FakeClock


def _start() -> HTTPServer:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    return server


@pytest.fixture(scope="session")
def _servers() -> Iterator[tuple[HTTPServer, HTTPServer]]:
    first, second = _start(), _start()
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def server(_servers: tuple[HTTPServer, HTTPServer]) -> Iterator[HTTPServer]:
    """The API under test, at http://127.0.0.1:<port>."""
    yield _servers[0]
    _servers[0].clear()


@pytest.fixture
def other_server(_servers: tuple[HTTPServer, HTTPServer]) -> Iterator[HTTPServer]:
    """A second origin (another port), for cross-origin tests."""
    yield _servers[1]
    _servers[1].clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def base_url(server: HTTPServer) -> str:
    return f"http://127.0.0.1:{server.port}"
