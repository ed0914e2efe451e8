from __future__ import annotations

import pytest
import structlog
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs

from collectorkit import (
    APIClient,
    AuthenticationError,
    OAuth2ClientCredentialsHandler,
    RetryPolicy,
    ServiceError,
    get_logger,
    redact,
)
from collectorkit.http import redact_url, register_secret
from collectorkit.http._models import Request
from collectorkit.testing import FakeClock

from .conftest import base_url
from .test_oauth2 import CLIENT_ID, SECRET, TokenServer

API_KEY = "qk-4242-abcdef-9999"


def test_redact_masks_sensitive_names_recursively() -> None:
    data = {
        "user": "alice",
        "password": "hunter2",
        "headers": {"Authorization": "Bearer x", "Accept": "json", "Cookie": "s=1"},
        "items": [{"api_key": "k"}, {"client_secret": "c"}, {"id": 1}],
    }
    assert redact(data) == {
        "user": "alice",
        "password": "***",
        "headers": {"Authorization": "***", "Accept": "json", "Cookie": "***"},
        "items": [{"api_key": "***"}, {"client_secret": "***"}, {"id": 1}],
    }


def test_redact_masks_registered_values_anywhere() -> None:
    register_secret("tok-registered-555")
    assert redact("the token tok-registered-555 leaked") == "the token *** leaked"
    assert redact({"note": ["tok-registered-555"]}) == {"note": ["***"]}


def test_redact_url_masks_query_secrets_and_passwords() -> None:
    url = "https://user:pw@api.example.com/v1?apikey=abc&page=2&access_token=t"
    assert (
        redact_url(url) == "https://user:***@api.example.com/v1?apikey=***&page=2&access_token=***"
    )


def test_redacted_request_masks_headers_params_and_body() -> None:
    request = Request(
        "POST",
        "https://api/x",
        headers={"X-API-Key": "abc", "Accept": "json"},
        params={"token": "t", "page": 1},
        content=b'{"password": "p"}',
    )
    safe = request.redacted()
    assert dict(safe.headers) == {"X-API-Key": "***", "Accept": "json"}
    assert safe.params == {"token": "***", "page": 1}
    assert safe.content == b"<redacted>"


def test_logger_debug_only_in_diagnostic_mode() -> None:
    with capture_logs() as logs:
        get_logger("t").debug("hidden", n=1)
        get_logger("t", diagnostic=True).debug("shown", password="pw-123456")
        get_logger("t").info("always", authorization="Bearer zzz")
    assert [entry["event"] for entry in logs] == ["shown", "always"]
    assert logs[0]["password"] == "***"
    assert logs[1]["authorization"] == "***"


async def test_debug_run_logs_no_secret_value(server: HTTPServer, clock: FakeClock) -> None:
    """Diagnostic mode, OAuth2 + an API key in the query, retries, failures: the captured logs,
    error messages and reprs hold none of the secrets."""
    TokenServer(server)
    server.expect_request("/api/flaky").respond_with_data(f"echo {API_KEY}", status=503)
    handler = OAuth2ClientCredentialsHandler(f"{base_url(server)}/token", CLIENT_ID, SECRET)
    client = APIClient(
        base_url=f"{base_url(server)}/api",
        auth=handler,
        clock=clock,
        diagnostic_mode=True,
        retry=RetryPolicy(max_attempts=2),
        headers={"X-Api-Key": API_KEY},
    )
    errors: list[str] = []
    with capture_logs() as logs:
        async with client.session():
            await client.get("/events", params={"apikey": API_KEY, "page": 1})
            with pytest.raises(ServiceError) as info:
                await client.get("/flaky", params={"apikey": API_KEY})
            errors += [str(info.value), repr(info.value.request), repr(info.value.response)]
            errors.append(repr(dict(info.value.request.headers)))  # type: ignore[union-attr]
            bad = OAuth2ClientCredentialsHandler(
                f"{base_url(server)}/token", CLIENT_ID, "bad-secret-77"
            )
            other = APIClient(base_url=f"{base_url(server)}/api", auth=bad, clock=clock)
            async with other.session():
                with pytest.raises(AuthenticationError) as auth_info:
                    await other.get("/events")
            errors.append(str(auth_info.value))
    assert any(entry["log_level"] == "debug" for entry in logs)
    text = repr(logs) + "\n".join(errors) + repr(handler) + repr(client.metrics)
    for secret in (SECRET, API_KEY, "at-1-xyzzy", "bad-secret-77"):
        assert secret not in text, secret
    assert "***" in text


def test_structlog_configuration_cannot_bypass_redaction() -> None:
    """Redaction happens before any processor runs, whatever the application configured."""
    register_secret("very-secret-value-1")
    captured: list[dict[str, object]] = []

    def keep(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
        captured.append(dict(event))
        raise structlog.DropEvent

    structlog.configure(processors=[keep])
    try:
        get_logger("t").warning("failed with very-secret-value-1", detail={"secret": "s", "x": 1})
    finally:
        structlog.reset_defaults()
    assert captured[0]["event"] == "failed with ***"
    assert captured[0]["detail"] == {"secret": "***", "x": 1}
