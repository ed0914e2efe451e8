"""The one "401 → refresh once → resend" rule, for every auth kind, through every entry point.

A server that refuses every credential answers 401 each time: a handler that can refresh does so
once and resends once; a static one does not resend. Either way the caller gets
``AuthenticationError`` — never a loop. Checked through :class:`APIClient` (request and stream)
and through :class:`CollectorClient`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from collectorkit import (
    APIClient,
    APIKeyAuthHandler,
    AuthenticationError,
    AuthHandler,
    BasicAuthHandler,
    BearerTokenAuthHandler,
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    OAuth2ClientCredentialsHandler,
)
from collectorkit.http import CustomAuthHandler, Request, Response

from .conftest import base_url


class RefreshingAuth(AuthHandler):
    """A custom handler that always believes a refresh will help."""

    def __init__(self) -> None:
        self.refreshes = 0

    def on_request(self, request: Request) -> None:
        request.headers["X-Session"] = f"session-{self.refreshes}"

    def on_auth_failure(self, response: Response) -> bool:
        self.refreshes += 1
        return True


def _token_endpoint(server: HTTPServer) -> list[int]:
    fetched: list[int] = []

    def token(request: WRequest) -> WResponse:
        fetched.append(1)
        body = f'{{"access_token": "at-{len(fetched)}-refused", "expires_in": 600}}'
        return WResponse(body, content_type="application/json")

    server.expect_request("/token", method="POST").respond_with_handler(token)
    return fetched


# kind -> (handler factory, API requests a refused call makes)
KINDS: dict[str, tuple[Callable[[HTTPServer], AuthHandler], int]] = {
    "bearer": (lambda s: BearerTokenAuthHandler("bearer-token-1"), 1),
    "api_key": (lambda s: APIKeyAuthHandler("api-key-123456"), 1),
    "basic": (lambda s: BasicAuthHandler("user", "basic-password"), 1),
    "custom_headers": (lambda s: CustomAuthHandler(headers={"X-Sig": "sig-123456"}), 1),
    "custom_refreshing": (lambda s: RefreshingAuth(), 2),
    "oauth2": (
        lambda s: OAuth2ClientCredentialsHandler(f"{base_url(s)}/token", "cid", "secret-abcdef"),
        2,
    ),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _refused(server: HTTPServer) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def api(request: WRequest) -> WResponse:
        seen.append(dict(request.headers))
        return WResponse("credentials refused", status=401)

    server.expect_request("/items").respond_with_handler(api)
    return seen


def _check_refreshes(handler: AuthHandler, sends: int, fetched: list[int]) -> None:
    if isinstance(handler, RefreshingAuth):
        assert handler.refreshes == 1
    if isinstance(handler, OAuth2ClientCredentialsHandler):
        assert len(fetched) == 2  # the first token, then one refresh
    assert sends in (1, 2)


async def test_api_client_refreshes_at_most_once_then_raises(server: HTTPServer, kind: str) -> None:
    make, expected = KINDS[kind]
    fetched, seen = _token_endpoint(server), _refused(server)
    handler = make(server)
    async with APIClient(base_url=base_url(server), auth=handler) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get("/items")
    assert info.value.status_code == 401
    assert len(seen) == expected
    _check_refreshes(handler, len(seen), fetched)


async def test_api_client_stream_refreshes_at_most_once_then_raises(
    server: HTTPServer, kind: str
) -> None:
    make, expected = KINDS[kind]
    fetched, seen = _token_endpoint(server), _refused(server)
    handler = make(server)
    async with APIClient(base_url=base_url(server), auth=handler) as client:
        with pytest.raises(AuthenticationError):
            async with client.stream("GET", "/items"):
                pass
    assert len(seen) == expected
    _check_refreshes(handler, len(seen), fetched)


async def test_collector_client_refreshes_at_most_once_then_raises(
    server: HTTPServer, kind: str
) -> None:
    make, expected = KINDS[kind]
    fetched, seen = _token_endpoint(server), _refused(server)
    handler = make(server)
    blueprint = CollectorBlueprint(
        name="refused",
        base_url=base_url(server),
        request=CollectorRequest(endpoint="/items"),
        auth_handler=handler,
    )
    async with CollectorClient(blueprint) as collector:
        with pytest.raises(AuthenticationError):
            await collector.collect_events()
    assert len(seen) == expected
    _check_refreshes(handler, len(seen), fetched)
