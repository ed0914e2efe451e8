from __future__ import annotations

import asyncio
import base64
import threading
from urllib.parse import parse_qs

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from collectorkit import (
    APIClient,
    AuthenticationError,
    ConfigError,
    OAuth2ClientCredentialsHandler,
    RetryPolicy,
    create_oauth2_auth,
)
from collectorkit.http import MemoryTokenCache
from collectorkit.testing import FakeClock
from collectorkit.typing import TokenCache

from .conftest import base_url

CLIENT_ID = "collector-app"
SECRET = "cs-9d8e7f6a5b4c"


class TokenServer:
    """A real OAuth2 token endpoint plus a protected API on the same local server."""

    def __init__(self, server: HTTPServer, *, expires_in: int = 120, method: str = "basic") -> None:
        self.expires_in = expires_in
        self.method = method
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.forms: list[dict[str, list[str]]] = []
        self.api_tokens: list[str | None] = []
        self._lock = threading.Lock()
        server.expect_request("/token", method="POST").respond_with_handler(self.token)
        server.expect_request("/api/events").respond_with_handler(self.api)

    def _client_ok(self, request: WRequest, form: dict[str, list[str]]) -> bool:
        if self.method == "basic":
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
            return request.headers.get("Authorization") == expected
        return form.get("client_id") == [CLIENT_ID] and form.get("client_secret") == [SECRET]

    def token(self, request: WRequest) -> WResponse:
        form = parse_qs(request.get_data(as_text=True))
        with self._lock:
            self.forms.append(form)
            if form.get("grant_type") != ["client_credentials"] or not self._client_ok(
                request, form
            ):
                return WResponse(
                    orjson.dumps({"error": "invalid_client"}),
                    status=401,
                    content_type="application/json",
                )
            token = f"at-{len(self.issued) + 1}-xyzzy"
            self.issued.append(token)
            self.valid.add(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        return WResponse(orjson.dumps(body), content_type="application/json")

    def api(self, request: WRequest) -> WResponse:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        with self._lock:
            self.api_tokens.append(token)
            ok = token in self.valid
        if not ok:
            return WResponse("invalid token", status=401)
        return WResponse(orjson.dumps({"events": [token]}), content_type="application/json")

    def revoke_all(self) -> None:
        with self._lock:
            self.valid.clear()


def make_client(
    server: HTTPServer, clock: FakeClock, **handler_options: object
) -> tuple[APIClient, OAuth2ClientCredentialsHandler]:
    handler = OAuth2ClientCredentialsHandler(
        f"{base_url(server)}/token",
        CLIENT_ID,
        SECRET,
        **handler_options,  # type: ignore[arg-type]
    )
    return APIClient(base_url=f"{base_url(server)}/api", auth=handler, clock=clock), handler


async def test_token_is_fetched_once_and_reused(server: HTTPServer, clock: FakeClock) -> None:
    tokens = TokenServer(server)
    client, handler = make_client(
        server, clock, scope=["events:read", "alerts:read"], audience="https://api"
    )
    async with client.session():
        for _ in range(3):
            assert (await client.get("/events")).json() == {"events": ["at-1-xyzzy"]}
    assert handler.fetches == 1
    assert tokens.forms[0]["scope"] == ["events:read alerts:read"]
    assert tokens.forms[0]["audience"] == ["https://api"]
    assert "client_secret" not in tokens.forms[0]  # basic auth by default


async def test_client_secret_post(server: HTTPServer, clock: FakeClock) -> None:
    tokens = TokenServer(server, method="post")
    client, _ = make_client(server, clock, auth_method="client_secret_post")
    async with client.session():
        assert (await client.get("/events")).status_code == 200
    assert tokens.forms[0]["client_id"] == [CLIENT_ID]


async def test_token_expiring_during_the_run_is_refreshed_before_expiry(
    server: HTTPServer, clock: FakeClock
) -> None:
    tokens = TokenServer(server, expires_in=120)
    client, handler = make_client(server, clock, refresh_skew=30)
    async with client.session():
        await client.get("/events")
        clock.advance(89)  # 31 s left: still used
        await client.get("/events")
        clock.advance(2)  # 29 s left: inside the skew, refreshed before it expires
        await client.get("/events")
    assert tokens.api_tokens == ["at-1-xyzzy", "at-1-xyzzy", "at-2-xyzzy"]
    assert handler.fetches == 2
    assert tokens.api_tokens.count(None) == 0


async def test_expiry_is_wall_clock(server: HTTPServer, clock: FakeClock) -> None:
    """A token cached by another run is judged by the wall clock, not the monotonic one."""
    TokenServer(server)
    cache = MemoryTokenCache()
    await cache.set_token(
        f"oauth2:{base_url(server)}/token:{CLIENT_ID}::", "at-old-expired", clock.time() - 1
    )
    client, handler = make_client(server, clock, token_cache=cache)
    async with client.session():
        assert (await client.get("/events")).json() == {"events": ["at-1-xyzzy"]}
    assert handler.fetches == 1


async def test_401_forces_one_refresh_and_a_retry(server: HTTPServer, clock: FakeClock) -> None:
    tokens = TokenServer(server)
    client, handler = make_client(server, clock)
    async with client.session():
        await client.get("/events")
        tokens.revoke_all()
        assert (await client.get("/events")).json() == {"events": ["at-2-xyzzy"]}
    assert tokens.api_tokens == ["at-1-xyzzy", "at-1-xyzzy", "at-2-xyzzy"]
    assert handler.fetches == 2


async def test_concurrent_401s_share_one_refresh(server: HTTPServer, clock: FakeClock) -> None:
    tokens = TokenServer(server)
    client, handler = make_client(server, clock)
    async with client.session():
        await client.get("/events")
        tokens.revoke_all()
        results = await asyncio.gather(*(client.get("/events") for _ in range(12)))
    assert all(r.json() == {"events": ["at-2-xyzzy"]} for r in results)
    assert handler.fetches == 2  # the first token, and ONE refresh for all twelve
    assert tokens.issued == ["at-1-xyzzy", "at-2-xyzzy"]
    assert tokens.api_tokens.count("at-1-xyzzy") == 13  # every request first tried the stale one


async def test_concurrent_first_requests_share_one_fetch(
    server: HTTPServer, clock: FakeClock
) -> None:
    TokenServer(server)
    client, handler = make_client(server, clock)
    async with client.session():
        await asyncio.gather(*(client.get("/events") for _ in range(8)))
    assert handler.fetches == 1


class DictTokenCache:
    """A third-party cache: satisfies the TokenCache Protocol without inheriting anything."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[str, float]] = {}

    async def get_token(self, key: str) -> tuple[str, float] | None:
        return self.data.get(key)

    async def set_token(self, key: str, token: str, expires_at: float) -> None:
        self.data[key] = (token, expires_at)


async def test_token_cache_keeps_the_token_across_clients(
    server: HTTPServer, clock: FakeClock
) -> None:
    TokenServer(server, expires_in=600)
    cache = DictTokenCache()
    assert isinstance(cache, TokenCache)
    first, first_handler = make_client(server, clock, token_cache=cache)
    async with first.session():
        await first.get("/events")
    ((token, expires_at),) = cache.data.values()
    assert token == "at-1-xyzzy"
    assert expires_at == pytest.approx(clock.time() + 600)
    second, second_handler = make_client(server, clock, token_cache=cache)
    async with second.session():
        assert (await second.get("/events")).json() == {"events": ["at-1-xyzzy"]}
    assert (first_handler.fetches, second_handler.fetches) == (1, 0)


async def test_refused_client_raises_authentication_error_without_the_secret(
    server: HTTPServer, clock: FakeClock
) -> None:
    TokenServer(server)
    handler = OAuth2ClientCredentialsHandler(
        f"{base_url(server)}/token", CLIENT_ID, "wrong-secret-value"
    )
    client = APIClient(
        base_url=base_url(server), auth=handler, clock=clock, retry=RetryPolicy.disabled()
    )
    async with client.session():
        with pytest.raises(AuthenticationError) as info:
            await client.get("/api/events")
    message = str(info.value)
    assert "invalid_client" in message
    assert "wrong-secret-value" not in message
    assert "wrong-secret-value" not in repr(handler)


async def test_seed_oauth2_factory(server: HTTPServer, clock: FakeClock) -> None:
    tokens = TokenServer(server)
    auth = create_oauth2_auth(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        token_url=f"{base_url(server)}/token",
        scopes=["read", "write"],
    )
    assert SECRET not in repr(auth)
    async with APIClient(base_url=f"{base_url(server)}/api", auth=auth, clock=clock) as client:
        assert (await client.get("/events")).status_code == 200
    assert tokens.forms[0]["scope"] == ["read write"]


def test_handler_validates_its_inputs() -> None:
    with pytest.raises(ConfigError, match="token_url: must be an absolute URL"):
        OAuth2ClientCredentialsHandler("/token", CLIENT_ID, SECRET)
    with pytest.raises(ConfigError, match="auth_method"):
        OAuth2ClientCredentialsHandler("https://a/token", CLIENT_ID, SECRET, auth_method="jwt")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="client_secret") as info:
        OAuth2ClientCredentialsHandler("https://a/token", CLIENT_ID, "")
    assert info.value.path == "OAuth2ClientCredentialsHandler.client_secret"


async def test_token_endpoint_outage_is_retried_by_the_policy(
    server: HTTPServer, clock: FakeClock
) -> None:
    tokens = TokenServer(server)
    server.clear()  # put a 503 in front of the real token endpoint
    server.expect_oneshot_request("/token").respond_with_data("busy", status=503)
    server.expect_request("/token", method="POST").respond_with_handler(tokens.token)
    server.expect_request("/api/events").respond_with_handler(tokens.api)
    client, handler = make_client(server, clock)
    async with client.session():
        assert (await client.get("/events")).json() == {"events": ["at-1-xyzzy"]}
    assert client.metrics.total_retries == 1
    assert handler.fetches == 2


async def test_one_handler_shared_by_two_clients_leaves_no_session_open(
    server: HTTPServer, clock: FakeClock
) -> None:
    tokens = TokenServer(server, expires_in=60)
    handler = OAuth2ClientCredentialsHandler(f"{base_url(server)}/token", CLIENT_ID, SECRET)
    async with APIClient(base_url=base_url(server), auth=handler, clock=clock) as first:
        await first.get("/api/events")
    clock.advance(120)  # the token expired: the second client fetches one, through itself
    second = APIClient(base_url=base_url(server), auth=handler, clock=clock)
    async with second:
        await second.get("/api/events")
        assert await handler.refresh() != tokens.issued[0]
    assert first._transport is None  # nothing reopened the first client's connections
    assert second._transport is None
    assert len(tokens.issued) == 3
