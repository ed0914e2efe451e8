"""The webhook sink sends through ``collectorkit.http``: retry policy, auth handlers, the
cross-origin rule, redacted errors and client metrics, against real local servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from collectorkit import (
    BearerTokenAuthHandler,
    Envelope,
    RetryPolicy,
    SinkError,
    record_key,
)
from collectorkit.sinks import WebhookSink
from collectorkit.testing import no_backoff

TOKEN = "hook-token-8c1f"


def _batch(n: int) -> list[Envelope]:
    return [Envelope("xdr", record_key("xdr", {"id": i}, ["id"]), {"id": i}) for i in range(n)]


@pytest.fixture
def other() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


async def test_a_503_then_200_is_retried_per_the_retry_policy(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("", status=503)
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("", status=202)
    sink = WebhookSink(httpserver.url_for("/hook"), retry=RetryPolicy(max_attempts=3))
    with no_backoff():
        async with sink:
            result = await sink.store(_batch(2))
    assert result.written == 2
    assert len(httpserver.log) == 2
    assert sink.metrics.total_retries == 1
    assert sink.metrics.successful_requests == 1


async def test_retries_exhausted_raise_sink_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    sink = WebhookSink(httpserver.url_for("/hook"), retry=RetryPolicy(max_attempts=2))
    with no_backoff(), pytest.raises(SinkError, match="503"):
        async with sink:
            await sink.store(_batch(1))
    assert len(httpserver.log) == 2


async def test_credentials_do_not_follow_a_redirect_to_another_origin(
    httpserver: HTTPServer, other: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data(
        "", status=307, headers={"Location": other.url_for("/moved")}
    )
    other.expect_request("/moved", method="POST").respond_with_data("", status=202)
    sink = WebhookSink(
        httpserver.url_for("/hook"),
        auth=BearerTokenAuthHandler(TOKEN),
        headers={"X-Api-Key": "hook-key-5521"},
    )
    async with sink:
        await sink.store(_batch(1))
    first, moved = httpserver.log[0][0], other.log[0][0]
    assert first.headers.get("Authorization") == f"Bearer {TOKEN}"
    assert first.headers.get("X-Api-Key") == "hook-key-5521"
    assert moved.headers.get("Authorization") is None
    assert moved.headers.get("X-Api-Key") is None
    assert moved.get_data()  # the records still arrive


async def test_a_secret_in_the_url_or_headers_never_shows_in_an_error(
    httpserver: HTTPServer,
) -> None:
    # the server echoes what it was sent; the error quotes the answer
    httpserver.expect_request("/hook").respond_with_data(
        f"refused X-Api-Key hook-key-7731 and token {TOKEN}", status=400
    )
    url = httpserver.url_for("/hook").replace("://", "://user:url-pass-9931@") + f"?token={TOKEN}"
    sink = WebhookSink(url, headers={"X-Api-Key": "hook-key-7731"})
    with pytest.raises(SinkError) as info:
        async with sink:
            await sink.store(_batch(1))
    shown = f"{info.value} {info.value.__cause__} {sink!r}"
    assert "400" in shown
    for secret in ("url-pass-9931", TOKEN, "hook-key-7731"):
        assert secret not in shown


async def test_request_metrics_count_every_post(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    sink = WebhookSink(httpserver.url_for("/hook"), batch_size=2)
    async with sink:
        await sink.store(_batch(5))
    assert sink.metrics.total_requests == 3
    assert sink.metrics.successful_requests == 3
    assert sink.metrics.failed_requests == 0
