from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs

from collectorkit import (
    AiohttpTransport,
    APIClient,
    ConfigError,
    HttpxTransport,
    RequestTimeoutError,
    RetryPolicy,
    TimeoutSettings,
    Transport,
    TransportError,
)
from collectorkit.http import _httpx_transport, default_transport

from .conftest import base_url

TRANSPORTS: list[Callable[[], Transport]] = [AiohttpTransport, HttpxTransport]
FAST = TimeoutSettings(connect=1, read=0.2)


@pytest.fixture(params=TRANSPORTS, ids=["aiohttp", "httpx"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    made: Transport = request.param()
    yield made
    await made.aclose()


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and reads, but never answers."""
    writers: list[asyncio.StreamWriter] = []
    answered = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await answered.wait()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    answered.set()
    for writer in writers:
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_transports_satisfy_the_protocol() -> None:
    assert isinstance(AiohttpTransport(), Transport)
    assert isinstance(HttpxTransport(), Transport)


async def test_round_trip_with_headers_and_body(server: HTTPServer, transport: Transport) -> None:
    server.expect_request(
        "/echo", method="POST", data=b"payload", headers={"X-A": "1"}
    ).respond_with_data("ok", headers={"X-Reply": "yes"}, status=201)
    raw = await transport.send("POST", f"{base_url(server)}/echo", [("X-A", "1")], b"payload", FAST)
    assert raw.status_code == 201
    assert raw.content == b"ok"
    assert ("x-reply", "yes") in [(k.lower(), v) for k, v in raw.headers]


async def test_encoded_query_is_sent_as_is(server: HTTPServer, transport: Transport) -> None:
    server.expect_request("/q", query_string="next=a%2Fb%3D&x=%20").respond_with_data("ok")
    raw = await transport.send("GET", f"{base_url(server)}/q?next=a%2Fb%3D&x=%20", [], None, FAST)
    assert raw.status_code == 200


async def test_refused_connection_is_a_transport_error(transport: Transport) -> None:
    with pytest.raises(TransportError) as info:
        await transport.send(
            "GET", f"http://127.0.0.1:{free_port()}/x?token=abcdef123", [], None, FAST
        )
    assert not isinstance(info.value, RequestTimeoutError)
    assert "abcdef123" not in str(info.value)


async def test_read_timeout_is_a_request_timeout_error(
    transport: Transport, silent_server: str
) -> None:
    with pytest.raises(RequestTimeoutError):
        await transport.send("GET", f"{silent_server}/slow", [], None, FAST)


async def test_redirects_are_not_followed_by_the_transport(
    server: HTTPServer, transport: Transport
) -> None:
    server.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    raw = await transport.send("GET", f"{base_url(server)}/a", [], None, FAST)
    assert raw.status_code == 302


async def test_client_maps_timeouts_and_counts_them(silent_server: str) -> None:
    client = APIClient(base_url=silent_server, timeout=FAST, retry=RetryPolicy(max_attempts=1))
    async with client.session():
        with pytest.raises(RequestTimeoutError):
            await client.get("/slow")
    assert client.metrics.timeouts == 1


async def test_http2_is_used_when_h2_is_installed_else_http11_with_an_info_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_h2 = HttpxTransport(http2=True)
    assert with_h2.http2
    await with_h2.aclose()
    monkeypatch.setattr(_httpx_transport, "h2_available", lambda: False)
    with capture_logs() as logs:
        without = HttpxTransport(http2=True)
    assert not without.http2
    assert logs[0]["log_level"] == "info"
    assert "HTTP/1.1" in logs[0]["event"]
    await without.aclose()


async def test_default_transport_choice() -> None:
    plain = default_transport()
    assert isinstance(plain, AiohttpTransport)
    h2 = default_transport(http2=True)
    assert isinstance(h2, HttpxTransport)
    await plain.aclose()
    await h2.aclose()


async def test_transport_errors_carry_the_redacted_request() -> None:
    client = APIClient(
        base_url=f"http://127.0.0.1:{free_port()}", retry=RetryPolicy.disabled(), timeout=FAST
    )
    async with client.session():
        with pytest.raises(TransportError) as info:
            await client.get("/x", params={"token": "tt-998877"})
    assert info.value.request is not None
    assert "tt-998877" not in info.value.request.full_url


@pytest.mark.parametrize("make", TRANSPORTS, ids=["aiohttp", "httpx"])
def test_a_transport_used_from_a_second_loop_says_so(
    server: HTTPServer, make: Callable[[], Transport]
) -> None:
    server.expect_request("/x").respond_with_data("ok")
    transport = make()
    url = f"{base_url(server)}/x"

    async def once() -> int:
        return (await transport.send("GET", url, [], None, FAST)).status_code

    async def twice() -> None:
        with pytest.raises(ConfigError, match="another event loop"):
            await once()
        await transport.aclose()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(once()) == 200
    finally:
        loop.close()
    asyncio.run(twice())
