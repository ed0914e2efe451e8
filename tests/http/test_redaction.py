from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus, unquote_plus

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs

from collectorkit import (
    APIClient,
    AuthenticationError,
    ClientRequestError,
    OAuth2ClientCredentialsHandler,
    RetryPolicy,
    ServiceError,
    get_logger,
    redact,
)
from collectorkit import _redact as redact_module
from collectorkit.http import is_sensitive_name, redact_url, register_secret
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


@contextmanager
def only_secrets(*secrets: str) -> Iterator[None]:
    """Run with exactly ``secrets`` registered, then restore the process-wide registry (so
    generated values neither meet other tests' secrets nor stay behind to mask their output)."""
    saved = dict(redact_module._secrets)
    redact_module._secrets.clear()
    try:
        for secret in secrets:
            register_secret(secret)
        yield
    finally:
        redact_module._secrets.clear()
        redact_module._secrets.update(saved)


def test_urls_and_text_without_secrets_are_left_byte_identical() -> None:
    cases = [
        "sqlite:///x.db",
        "sqlite:////abs/path/x.db?mode=ro",
        "name: value ://odd text",
        "name: see http://h/x and file:///tmp/a b",
        "https://api.example.com/v1/x?a=1&a=2&q=hello+world%20x&flag&=&empty=#frag",
        "https://user@host:8443/p;params?x=%2F",
        "postgresql://alice@db:5432/app?sslmode=require",
        "redis://:@localhost:6379/0",
        "http://[::1]:80/?b=1;c=2",
    ]
    with only_secrets():
        for text in cases:
            assert redact_url(text) == text
            assert redact(text) == text
            assert redact({"where": text}) == {"where": text}


def test_only_the_secret_parts_of_a_url_inside_text_change() -> None:
    text = "name: db postgresql://u:pw@h:5/db?sslmode=require&password=x#access_token=y then"
    with only_secrets():
        assert redact(text) == (
            "name: db postgresql://u:***@h:5/db?sslmode=require&password=***#access_token=*** then"
        )
        assert redact_url("sqlite:///x.db?token=t1") == "sqlite:///x.db?token=***"


_URL_CHARS = st.sampled_from(list("abcxyz019-._~%/+=&;,!$'()*:@ "))
_SAFE_NAME = st.text(st.sampled_from(list("abcdfgmnqruvwxz01_-.%+")), max_size=6).filter(
    lambda n: not is_sensitive_name(n)
)


@st.composite
def _urls_without_secrets(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "sqlite", "postgresql", "redis", "s3", "x.y"]))
    user = draw(st.sampled_from(["", "alice@", ":@", "bob:@"]))
    host = draw(st.sampled_from(["", "h", "api.example.com", "127.0.0.1:8080", "[::1]"]))
    path = draw(st.text(st.sampled_from(list("abc/._-~%;,:@ ")), max_size=12))
    if path and not path.startswith("/"):
        path = "/" + path
    pairs = draw(st.lists(st.tuples(_SAFE_NAME, st.booleans(), st.text(_URL_CHARS, max_size=8))))
    query = "&".join(f"{n}={v}" if eq else n for n, eq, v in pairs)
    fragment = draw(st.text(st.sampled_from(list("abc-=_")), max_size=6))
    url = f"{scheme}://{user}{host}{path}"
    if pairs:
        url += "?" + query
    if fragment and not is_sensitive_name(fragment):
        url += "#" + fragment
    return url


@given(url=_urls_without_secrets(), before=st.text(max_size=20), after=st.text(max_size=20))
def test_redaction_is_the_identity_without_secrets(url: str, before: str, after: str) -> None:
    with only_secrets():
        assert redact_url(url) == url
        assert redact(url) == url
        text = f"{before} {url} {after}"
        if "@" not in text and not is_sensitive_name(unquote_plus(text)):
            assert redact(text) == text


@given(text=st.text(max_size=60))
def test_free_text_without_passwords_or_sensitive_names_is_unchanged(text: str) -> None:
    with only_secrets():
        if "@" not in text and not is_sensitive_name(unquote_plus(text)):
            assert redact(text) == text
            assert redact_url(text) == text


@given(
    secret=st.text(min_size=4, max_size=16),
    before=st.text(max_size=24),
    after=st.text(max_size=24),
    shape=st.sampled_from(["{b}{s}{a}", "https://u:{s}@h/{b}?q={a}", "x://h/?k={b}{s}{a}#{s}"]),
)
def test_a_registered_secret_never_survives_redaction(
    secret: str, before: str, after: str, shape: str
) -> None:
    text = shape.format(b=before, s=secret, a=after)
    with only_secrets(secret):
        outputs = [
            redact_url(text),
            redact(text),
            repr(redact({text: [text, (text,)], "nested": {"n": text}})),
            redact(ValueError(text)),
            redact(object.__new__(type("Box", (), {"__repr__": lambda self: text}))),
        ]
    for output in outputs:
        assert secret not in output


@given(secret=st.text(min_size=4, max_size=16), around=st.text(max_size=12))
def test_a_registered_secret_is_masked_in_its_encoded_forms(secret: str, around: str) -> None:
    forms = [
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
    ]
    with only_secrets(secret):
        for form in forms:
            assert form not in redact(f"{around}{form}{around}") or form in around


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            '{"error": "invalid_request", "client_secret": "s3cr3t-echoed-value"}',
            "application/json",
        ),
        ("error=invalid_request&client_secret=s3cr3t-echoed-value", "text/plain"),
        (
            '{"detail": {"request": {"headers": {"X-Api-Key": "s3cr3t-echoed-value"}}}}',
            "application/json",
        ),
    ],
)
async def test_an_error_never_quotes_a_secret_the_server_echoed(
    server: HTTPServer, clock: FakeClock, body: str, content_type: str
) -> None:
    # the value was never registered as a secret: only its name says what it is
    server.expect_request("/q").respond_with_data(body, status=400, content_type=content_type)
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        with pytest.raises(ClientRequestError) as info:
            await client.get("/q")
    message = str(info.value)
    assert "invalid_request" in message or "detail" in message
    assert "s3cr3t-echoed-value" not in message
