"""``APIClient.stream``: the send loop of ``request`` with the body handed out as it arrives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from collectorkit import (
    APIClient,
    BearerTokenAuthHandler,
    CollectorTimeoutError,
    RetryPolicy,
    ServiceError,
    TimeoutSettings,
    TransportError,
)
from collectorkit.http import (
    AiohttpTransport,
    HttpxTransport,
    Request,
    Response,
    StreamingTransport,
    Transport,
)
from collectorkit.testing import FakeClock, MockTransport, no_backoff

from .conftest import base_url

TOKEN = "stream-token-0451"


def _feed(request: WRequest) -> WResponse:
    def lines() -> Iterator[bytes]:
        for n in range(5):
            yield f"line {n}\n".encode()

    return WResponse(lines(), content_type="text/plain")


@pytest.fixture(params=["aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return AiohttpTransport() if request.param == "aiohttp" else HttpxTransport()


async def test_both_transports_stream_the_body(server: HTTPServer, transport: Transport) -> None:
    assert isinstance(transport, StreamingTransport)
    server.expect_request("/feed").respond_with_handler(_feed)
    async with APIClient(base_url=base_url(server), transport=transport) as client:
        async with client.stream("GET", "/feed", params={"from": 1}) as response:
            assert response.status_code == 200
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
        await transport.aclose()
    assert body == b"".join(f"line {n}\n".encode() for n in range(5))
    assert server.log[0][0].args["from"] == "1"
    assert client.metrics.total_requests == client.metrics.successful_requests == 1


async def test_a_retryable_status_is_retried_before_the_body_is_handed_out(
    server: HTTPServer, transport: Transport
) -> None:
    server.expect_ordered_request("/feed").respond_with_data("busy", status=503)
    server.expect_ordered_request("/feed").respond_with_handler(_feed)
    client = APIClient(
        base_url=base_url(server), transport=transport, retry=RetryPolicy(max_attempts=3)
    )
    with no_backoff():
        async with client.stream("GET", "/feed") as response:
            assert (await response.aread()).startswith(b"line 0\n")
    await transport.aclose()
    assert client.metrics.total_retries == 1
    assert client.metrics.service_errors == 1


async def test_an_error_status_raises_with_the_secret_masked(
    server: HTTPServer, transport: Transport
) -> None:
    server.expect_request("/feed").respond_with_data(f"bad token {TOKEN}", status=500)
    client = APIClient(
        base_url=base_url(server),
        transport=transport,
        auth=BearerTokenAuthHandler(TOKEN),
        retry=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(ServiceError) as info:
        async with client.stream("GET", "/feed"):
            pass
    await transport.aclose()
    assert TOKEN not in str(info.value)
    assert client.metrics.failed_requests == 1


async def test_a_redirect_to_another_origin_gets_no_credentials(
    server: HTTPServer, other_server: HTTPServer
) -> None:
    server.expect_request("/feed").respond_with_data(
        "", status=307, headers={"Location": f"{base_url(other_server)}/elsewhere"}
    )
    other_server.expect_request("/elsewhere").respond_with_handler(_feed)
    client = APIClient(base_url=base_url(server), auth=BearerTokenAuthHandler(TOKEN))
    async with client, client.stream("GET", "/feed") as response:
        await response.aread()
    assert server.log[0][0].headers.get("Authorization") == f"Bearer {TOKEN}"
    assert other_server.log[0][0].headers.get("Authorization") is None


async def test_a_transport_without_stream_hands_the_whole_body_out_once() -> None:
    def handler(request: Request) -> Response:
        return Response(200, content=b"all at once")

    transport = MockTransport(handler)
    assert not isinstance(transport, StreamingTransport)
    client = APIClient(base_url="http://api.test", transport=transport)
    async with client, client.stream("GET", "/x") as response:
        assert [chunk async for chunk in response.aiter_bytes()] == [b"all at once"]


async def test_a_connection_failure_is_a_transport_error() -> None:
    client = APIClient(base_url="http://127.0.0.1:9", retry=RetryPolicy(max_attempts=1))
    with pytest.raises(TransportError, match=r"GET http://127\.0\.0\.1:9/x failed"):
        async with client.stream("GET", "/x"):
            pass
    await client.aclose()


async def test_a_deadline_caps_the_stream_timeouts_and_one_already_past_sends_nothing(
    clock: FakeClock,
) -> None:
    seen: list[float] = []

    class Recording(MockTransport):
        async def send(self, method, url, headers, content, timeouts):  # type: ignore[no-untyped-def]
            seen.append(timeouts.read)
            return await super().send(method, url, headers, content, timeouts)

    transport = Recording(lambda request: Response(200, content=b"{}"))
    client = APIClient(
        base_url="http://api.test",
        transport=transport,
        clock=clock,
        timeout=TimeoutSettings(read=30),
    )
    async with client:
        async with client.stream("GET", "/x", deadline=clock.monotonic() + 4) as response:
            await response.aread()
        with pytest.raises(CollectorTimeoutError, match="time budget ran out before GET"):
            async with client.stream("GET", "/x", deadline=clock.monotonic() - 1):
                pass
    assert seen == [4.0]
    assert client.metrics.failed_requests == 1
