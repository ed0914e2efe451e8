"""The webhook callback posts through ``collectorkit.http``: retries, auth, redaction, metrics."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from collectorkit import BearerTokenAuthHandler, RetryPolicy
from collectorkit.delivery import WebhookCallback
from collectorkit.delivery._callbacks import CallbackError
from collectorkit.testing import no_backoff

TOKEN = "callback-token-3391"


async def test_a_503_then_200_is_retried_and_counted(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("", status=503)
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    httpserver.expect_ordered_request("/hook", method="POST").respond_with_data("ok")
    hook = WebhookCallback(httpserver.url_for("/hook"), auth=BearerTokenAuthHandler(TOKEN))
    async with hook:
        with no_backoff():
            await hook("xdr", [{"id": 1}])
            await hook("xdr", [{"id": 2}], idempotency_keys=["k2"])  # one client, reused
    assert [r.headers.get("Idempotency-Key") for r, _ in httpserver.log] == [None, None, "k2"]
    assert [r.headers.get("Authorization") for r, _ in httpserver.log] == [f"Bearer {TOKEN}"] * 3
    assert hook.metrics.total_retries == 1
    assert hook.metrics.successful_requests == 2


async def test_a_refusal_names_the_status_and_hides_the_secret(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data(f"bad token {TOKEN}", status=400)
    hook = WebhookCallback(
        httpserver.url_for("/hook"),
        auth=BearerTokenAuthHandler(TOKEN),
        retry=RetryPolicy(max_attempts=1),
    )
    async with hook:
        with pytest.raises(CallbackError, match="HTTP 400") as info:
            await hook("xdr", [{"id": 1}])
    assert TOKEN not in str(info.value)
    assert hook.metrics.failed_requests == 1
