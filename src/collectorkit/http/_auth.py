"""Auth handlers as generator flows (httpx ``Auth.auth_flow``): ``response = yield request``.

The cross-origin rule is written once, in :meth:`AuthHandler.authenticate`: a request to an
origin the client does not trust (a redirect, an absolute ``next`` URL to another host) gets no
credentials.
Subclasses only decide how to add credentials (``on_request``) and whether a 401 is worth one
retry after refreshing them (``on_auth_failure``).
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Set
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from collectorkit._clock import Clock
from collectorkit._errors import ConfigError
from collectorkit.http._models import Request, Response
from collectorkit.http._redact import MASK, is_sensitive_name, redact_text, register_secret

__all__ = [
    "APIKeyAuthHandler",
    "AuthContext",
    "AuthHandler",
    "BasicAuthHandler",
    "BearerTokenAuthHandler",
    "CustomAuthHandler",
    "NoAuth",
    "maybe_await",
    "strip_credentials",
    "trusts_origin",
]

_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


def strip_credentials(request: Request) -> None:
    """Remove every credential-bearing header: auth, cookies, sensitive-named headers, and any
    header holding a secret value (a configured ``X-Auth: ${file:…}``, an auth handler's)."""
    for name, value in list(request.headers.items()):
        if (
            name.lower() in _CREDENTIAL_HEADERS
            or is_sensitive_name(name)
            or redact_text(value) != value
        ):
            del request.headers[name]


def trusts_origin(
    origin: tuple[str, str, int], trusted: tuple[str, str, int], allowed_hosts: Set[str]
) -> bool:
    """Whether credentials may go to ``origin``: the ``trusted`` one (the client's base URL, a
    stream's URL) and hosts in ``allowed_hosts`` (a bare host name allows every port,
    ``host:port`` one port) — over ``https`` when the trusted origin is."""
    if origin == trusted:
        return True
    scheme, host, port = origin
    if scheme != "https" and trusted[0] == "https":
        return False  # never in clear text what the API receives over TLS
    return host in allowed_hosts or f"{host}:{port}" in allowed_hosts


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What a client lends its auth handler: ``send`` (one request through the client's
    transport, without auth or retries, e.g. for a token endpoint) and the client's clock."""

    send: Callable[[Request], Awaitable[Response]]
    clock: Clock


async def maybe_await(value: Any) -> Any:
    if value is None or value is True or value is False:  # the common, synchronous answers
        return value
    return await value if inspect.isawaitable(value) else value


Send = Callable[[Request], Awaitable[Response]]


def _require_text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        shown = MASK if isinstance(value, str) else repr(value)
        raise ConfigError(f"must be a non-empty string, got {shown}", path=path)
    return value


class AuthHandler:
    """Base class for custom auth. Override :meth:`on_request` to add credentials (mutate
    ``request.headers`` / ``request.params``) and :meth:`on_auth_failure` to refresh them and
    return ``True`` to retry once. Either may be ``async``. For multi-step flows override
    :meth:`auth_flow` itself."""

    def attach(self, context: AuthContext) -> None:
        """Called by a client that will use this handler (again, each time it opens its
        connections); the default ignores it."""

    def detach(self, context: AuthContext) -> None:
        """Called by a client that closed its connections: ``context`` must not be used to
        send until it is attached again; the default ignores it."""

    def on_request(self, request: Request) -> Awaitable[None] | None:
        """Add credentials to ``request``."""
        return None

    def on_auth_failure(self, response: Response) -> bool | Awaitable[bool]:
        """A request got 401. Refresh credentials and return ``True`` to retry it once."""
        return False

    async def auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        """``response = yield request``: add credentials and send; on a 401, if
        :meth:`on_auth_failure` refreshed the credentials, add them again and resend — once.

        The one "401 → refresh once → resend" rule: every client, stream and auth kind goes
        through it. A second 401 is the caller's answer (``AuthenticationError``).
        """
        pending = self.on_request(request)
        if pending is not None:  # an async on_request (no coroutine made for sync ones)
            await pending
        response = yield request
        if response.status_code == 401 and await maybe_await(self.on_auth_failure(response)):
            await maybe_await(self.on_request(request))
            yield request

    async def authenticate(self, request: Request, *, trusted: bool, send: Send) -> Response:
        """Send ``request`` through ``send`` with credentials — the flow the client drives.

        The cross-origin rule lives here, once: a request to an origin the client does not
        trust goes out with every credential header stripped and no handler code runs. For
        trusted origins :meth:`auth_flow` is driven to its end; the last response is the answer.
        """
        if not trusted:
            strip_credentials(request)
            return await send(request)
        flow = self.auth_flow(request)
        try:
            response = await send(await flow.__anext__())
            while True:
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return response
                response = await send(outgoing)
        finally:
            await flow.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NoAuth(AuthHandler):
    """No credentials."""


class APIKeyAuthHandler(AuthHandler):
    """An API key in a header (``header_name``, default ``X-API-Key``), a query parameter
    (``query_param``) or a field of the request body (``body_field``: merged into a JSON object
    or a form body; a request without a body gets a JSON object), optionally with a ``prefix``
    (``"ApiKey"`` sends ``ApiKey <key>``). Give at most one location. ``key_id`` is sent in the
    header ``key_id_header`` beside the key (Cortex XDR's ``x-xdr-auth-id``)."""

    def __init__(
        self,
        key: str,
        *,
        header_name: str | None = None,
        query_param: str | None = None,
        body_field: str | None = None,
        prefix: str | None = None,
        key_id: str | None = None,
        key_id_header: str | None = None,
    ) -> None:
        self._key = _require_text(key, "APIKeyAuthHandler.key")
        if key_id is not None and not key_id_header:
            raise ConfigError(
                "key_id needs key_id_header (the header that carries it)",
                path="APIKeyAuthHandler.key_id_header",
            )
        self.key_id, self.key_id_header = key_id, key_id_header
        given = {
            name: value
            for name, value in (
                ("header_name", header_name),
                ("query_param", query_param),
                ("body_field", body_field),
            )
            if value is not None
        }
        if len(given) > 1:
            shown = ", ".join(f"{name}={value!r}" for name, value in given.items())
            raise ConfigError(f"give one location, not several: {shown}", path="APIKeyAuthHandler")
        self.query_param = query_param
        self.body_field = body_field
        self.header_name = header_name if given.keys() <= {"header_name"} else None
        if not given:
            self.header_name = "X-API-Key"
        self.prefix = prefix
        register_secret(self._key)

    @property
    def _value(self) -> str:
        return f"{self.prefix} {self._key}" if self.prefix else self._key

    def on_request(self, request: Request) -> None:
        if self.key_id is not None and self.key_id_header:
            request.headers[self.key_id_header] = self.key_id
        if self.query_param is not None:
            request.params[self.query_param] = self._value
        elif self.body_field is not None:
            add_body_field(request, self.body_field, self._value)
        else:
            request.headers[self.header_name or "X-API-Key"] = self._value

    def __repr__(self) -> str:
        if self.query_param:
            where = f"query_param={self.query_param!r}"
        elif self.body_field:
            where = f"body_field={self.body_field!r}"
        else:
            where = f"header_name={self.header_name!r}"
        return f"APIKeyAuthHandler(key={MASK!r}, {where}, prefix={self.prefix!r})"


def add_body_field(request: Request, name: str, value: str) -> None:
    """Put ``name=value`` into the body of ``request`` (JSON object or form)."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if request.content is None:
        request.content = orjson.dumps({name: value})
        request.headers["Content-Type"] = "application/json"
    elif content_type == "application/x-www-form-urlencoded":
        separator = b"&" if request.content else b""
        request.content += separator + urlencode({name: value}).encode()
    else:
        try:
            body = orjson.loads(request.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise ConfigError(
                f"cannot put the API key into a {content_type or 'non-JSON'} body; "
                "use a JSON object or form body, a header or a query parameter",
                path="APIKeyAuthHandler.body_field",
            )
        request.content = orjson.dumps({**body, name: value})


class BearerTokenAuthHandler(AuthHandler):
    """A static token sent as ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = _require_text(token, "BearerTokenAuthHandler.token")
        self._header = f"Bearer {self._token}"  # built once, not per request
        register_secret(self._token)

    def on_request(self, request: Request) -> None:
        request.headers["Authorization"] = self._header

    def __repr__(self) -> str:
        return f"BearerTokenAuthHandler(token={MASK!r})"


class BasicAuthHandler(AuthHandler):
    """HTTP Basic auth (RFC 7617, UTF-8)."""

    def __init__(self, username: str, password: str) -> None:
        self.username = _require_text(username, "BasicAuthHandler.username")
        password = _require_text(password, "BasicAuthHandler.password")
        raw = f"{self.username}:{password}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")
        register_secret(password)
        register_secret(self._header.removeprefix("Basic "))

    def on_request(self, request: Request) -> None:
        request.headers["Authorization"] = self._header

    def __repr__(self) -> str:
        return f"BasicAuthHandler(username={self.username!r}, password={MASK!r})"


class CustomAuthHandler(AuthHandler):
    """Fixed headers and query parameters on every request (seed 004's ``AuthType.CUSTOM``).
    Every value is treated as a secret."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        self._headers = dict(headers or {})
        self._params = dict(params or {})
        for value in (*self._headers.values(), *self._params.values()):
            register_secret(value)

    def on_request(self, request: Request) -> None:
        request.headers.update(self._headers)
        request.params.update(self._params)

    def __repr__(self) -> str:
        return (
            f"CustomAuthHandler(headers={sorted(self._headers)!r}, params={sorted(self._params)!r})"
        )
