from __future__ import annotations

import base64

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from collectorkit import (
    APIClient,
    APIKeyAuthHandler,
    AuthConfig,
    AuthenticationError,
    AuthHandler,
    AuthType,
    BasicAuthHandler,
    BearerTokenAuthHandler,
    ConfigError,
    create_api_key_auth,
    create_basic_auth,
    create_bearer_auth,
)
from collectorkit.compat import AuthLocation
from collectorkit.http import CustomAuthHandler, Request, Response
from collectorkit.http._auth import trusts_origin

from .conftest import base_url

KEY = "sk-live-7f3a9c2e"


def seen(server: HTTPServer) -> list[WRequest]:
    return [request for request, _ in server.log]


async def fetch(
    server: HTTPServer, auth: AuthHandler | AuthConfig, path: str = "/items"
) -> Response:
    async with APIClient(base_url=base_url(server), auth=auth) as client:
        return await client.get(path)


async def test_api_key_in_a_header(server: HTTPServer) -> None:
    server.expect_request("/items", headers={"X-Key": KEY}).respond_with_json([1])
    assert (await fetch(server, APIKeyAuthHandler(key=KEY, header_name="X-Key"))).json() == [1]


async def test_api_key_with_a_prefix(server: HTTPServer) -> None:
    server.expect_request("/items", headers={"Authorization": f"ApiKey {KEY}"}).respond_with_json(
        [1]
    )
    assert (
        await fetch(server, APIKeyAuthHandler(KEY, header_name="Authorization", prefix="ApiKey"))
    ).json() == [1]


async def test_api_key_in_the_query(server: HTTPServer) -> None:
    server.expect_request("/items", query_string={"apikey": KEY}).respond_with_json([2])
    assert (await fetch(server, APIKeyAuthHandler(key=KEY, query_param="apikey"))).json() == [2]


async def test_bearer_token(server: HTTPServer) -> None:
    server.expect_request("/items", headers={"Authorization": f"Bearer {KEY}"}).respond_with_json(
        [3]
    )
    assert (await fetch(server, BearerTokenAuthHandler(token=KEY))).json() == [3]


async def test_basic_auth(server: HTTPServer) -> None:
    expected = "Basic " + base64.b64encode(b"alice:pa55-w0rd!").decode()
    server.expect_request("/items", headers={"Authorization": expected}).respond_with_json([4])
    assert (
        await fetch(server, BasicAuthHandler(username="alice", password="pa55-w0rd!"))
    ).json() == [4]


async def test_custom_headers_and_params(server: HTTPServer) -> None:
    config = AuthConfig(
        type=AuthType.CUSTOM,
        custom_headers={"X-Custom-Auth": "value-123", "X-Tenant-ID": "tenant-123"},
        custom_params={"api_key": "key-value"},
    )
    server.expect_request(
        "/items",
        headers={"X-Custom-Auth": "value-123", "X-Tenant-ID": "tenant-123"},
        query_string={"api_key": "key-value"},
    ).respond_with_json([5])
    assert (await fetch(server, config)).json() == [5]


@pytest.mark.parametrize(
    ("config", "header", "value"),
    [
        (create_api_key_auth(api_key=KEY, header_name="X-API-Key", prefix=None), "X-API-Key", KEY),
        (create_bearer_auth(KEY), "Authorization", f"Bearer {KEY}"),
        (
            create_basic_auth("bob", "s3cret-pw"),
            "Authorization",
            "Basic " + base64.b64encode(b"bob:s3cret-pw").decode(),
        ),
        (AuthConfig(type=AuthType.API_KEY, token=KEY, token_key="X-API-Key"), "X-API-Key", KEY),
        (
            AuthConfig(type=AuthType.BEARER, token=KEY, token_key="X-Token", token_prefix="Token"),
            "X-Token",
            f"Token {KEY}",
        ),
    ],
)
async def test_seed_auth_configs_send_the_right_header(
    server: HTTPServer, config: AuthConfig, header: str, value: str
) -> None:
    server.expect_request("/items", headers={header: value}).respond_with_json({})
    assert (await fetch(server, config)).status_code == 200


async def test_seed_query_location(server: HTTPServer) -> None:
    config = AuthConfig(
        type=AuthType.API_KEY, token=KEY, token_location=AuthLocation.QUERY, token_key="key"
    )
    server.expect_request("/items", query_string={"key": KEY}).respond_with_json({})
    assert (await fetch(server, config)).status_code == 200


def test_auth_config_without_its_credentials_says_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="'basic' needs password"):
        AuthConfig(type=AuthType.BASIC, username="u").to_handler()
    with pytest.raises(ConfigError, match="client_id, client_secret"):
        AuthConfig(type=AuthType.OAUTH2, token_url="https://a/token").to_handler()
    with pytest.raises(ConfigError, match="give one location"):
        APIKeyAuthHandler(KEY, header_name="X", query_param="y")
    with pytest.raises(ConfigError, match=r"BearerTokenAuthHandler\.token"):
        BearerTokenAuthHandler(token="")


def test_reprs_never_show_secrets() -> None:
    handlers = [
        APIKeyAuthHandler(KEY),
        BearerTokenAuthHandler(KEY),
        BasicAuthHandler("alice", KEY),
        CustomAuthHandler(headers={"X-Auth": KEY}),
        AuthConfig(type=AuthType.BEARER, token=KEY),
    ]
    for handler in handlers:
        assert KEY not in repr(handler)
        assert KEY not in str(handler)


class RotatingAuth(AuthHandler):
    """A custom flow: async on_request, refresh on 401."""

    def __init__(self) -> None:
        self.token = "stale-token-1"
        self.refreshes = 0

    async def on_request(self, request: Request) -> None:
        request.headers["X-Session"] = self.token

    async def on_auth_failure(self, response: Response) -> bool:
        self.refreshes += 1
        self.token = "fresh-token-2"
        return True


def _session_check(request: WRequest) -> WResponse:
    if request.headers.get("X-Session") == "fresh-token-2":
        return WResponse('{"ok": true}', content_type="application/json")
    return WResponse("expired", status=401)


async def test_custom_handler_refreshes_once_on_401(server: HTTPServer) -> None:
    server.expect_request("/items").respond_with_handler(_session_check)
    auth = RotatingAuth()
    response = await fetch(server, auth)
    assert response.json() == {"ok": True}
    assert auth.refreshes == 1
    assert [r.headers["X-Session"] for r in seen(server)] == ["stale-token-1", "fresh-token-2"]


async def test_401_after_the_refresh_raises_authentication_error(server: HTTPServer) -> None:
    server.expect_request("/items").respond_with_data("no", status=401)
    auth = RotatingAuth()
    client = APIClient(base_url=base_url(server), auth=auth)
    async with client.session():
        with pytest.raises(AuthenticationError) as info:
            await client.get("/items")
    assert info.value.status_code == 401
    assert auth.refreshes == 1
    assert len(server.log) == 2  # one refresh, one retry, no loop
    assert client.metrics.auth_errors == 2


# --- cross-origin -----------------------------------------------------------------------------


def _credentials(request: WRequest) -> dict[str, str | None]:
    return {
        "authorization": request.headers.get("Authorization"),
        "x-api-key": request.headers.get("X-API-Key"),
        "apikey": request.args.get("apikey"),
    }


async def test_redirect_to_another_origin_strips_credentials(
    server: HTTPServer, other_server: HTTPServer
) -> None:
    target = f"{base_url(other_server)}/landing"
    server.expect_request("/items").respond_with_data("", status=302, headers={"Location": target})
    other_server.expect_request("/landing").respond_with_json({"landed": True})
    async with APIClient(
        base_url=base_url(server), auth=BearerTokenAuthHandler(KEY), headers={"X-API-Key": KEY}
    ) as client:
        response = await client.get("/items")
    assert response.json() == {"landed": True}
    assert seen(server)[0].headers["Authorization"] == f"Bearer {KEY}"
    assert _credentials(seen(other_server)[0]) == {
        "authorization": None,
        "x-api-key": None,
        "apikey": None,
    }


async def test_redirect_within_the_origin_keeps_credentials(server: HTTPServer) -> None:
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    server.expect_request("/new", headers={"Authorization": f"Bearer {KEY}"}).respond_with_json([7])
    assert (await fetch(server, BearerTokenAuthHandler(KEY), "/old")).json() == [7]


async def test_absolute_url_to_another_host_gets_no_credentials(
    server: HTTPServer, other_server: HTTPServer
) -> None:
    other_server.expect_request("/next").respond_with_json({"page": 2})
    auth = APIKeyAuthHandler(KEY, query_param="apikey")
    async with APIClient(base_url=base_url(server), auth=auth) as client:
        response = await client.get(f"{base_url(other_server)}/next")
    assert response.json() == {"page": 2}
    assert _credentials(seen(other_server)[0])["apikey"] is None


async def test_allowed_hosts_receive_credentials(
    server: HTTPServer, other_server: HTTPServer
) -> None:
    other_host = f"127.0.0.1:{other_server.port}"
    server.expect_request("/items").respond_with_data(
        "", status=307, headers={"Location": f"http://{other_host}/cdn"}
    )
    other_server.expect_request(
        "/cdn", headers={"Authorization": f"Bearer {KEY}"}
    ).respond_with_json([8])
    client = APIClient(
        base_url=base_url(server), auth=BearerTokenAuthHandler(KEY), allowed_hosts=[other_host]
    )
    async with client.session():
        assert (await client.get("/items")).json() == [8]


async def test_303_turns_a_post_into_a_get_without_body(server: HTTPServer) -> None:
    server.expect_request("/submit", method="POST").respond_with_data(
        "", status=303, headers={"Location": "/result"}
    )
    server.expect_request("/result", method="GET").respond_with_json({"done": True})
    async with APIClient(base_url=base_url(server)) as client:
        response = await client.post("/submit", json={"a": 1})
    assert response.json() == {"done": True}
    assert seen(server)[1].data == b""


@pytest.mark.parametrize(
    ("origin", "trusted", "allowed", "trusts"),
    [
        (("http", "api.example", 80), ("https", "api.example", 443), {"api.example"}, False),
        (("http", "cdn.example", 80), ("https", "api.example", 443), {"cdn.example"}, False),
        (("https", "cdn.example", 443), ("https", "api.example", 443), {"cdn.example"}, True),
        (("http", "cdn.example", 80), ("http", "api.example", 80), {"cdn.example"}, True),
        (("https", "api.example", 443), ("https", "api.example", 443), set(), True),
    ],
)
def test_credentials_never_go_down_from_https_to_http(
    origin: tuple[str, str, int], trusted: tuple[str, str, int], allowed: set[str], trusts: bool
) -> None:
    assert trusts_origin(origin, trusted, allowed) is trusts
