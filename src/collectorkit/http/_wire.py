"""What goes on the wire and what comes back: bodies, URLs, redirects, status errors, and the
default transport. Pure helpers of the send loop in ``_client``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin

import orjson

from collectorkit._errors import (
    AuthenticationError,
    ClientRequestError,
    ConfigError,
    HTTPStatusError,
    QuotaError,
    RequestTimeoutError,
    ServiceError,
    TransportError,
)
from collectorkit._redact import redact_body
from collectorkit.http._headers import Headers
from collectorkit.http._models import Request, Response
from collectorkit.http._redact import MASK, is_sensitive_name, redact_url
from collectorkit.http._server_hints import quota_exhausted
from collectorkit.http._timeouts import TimeoutSettings
from collectorkit.http._transport import RawResponse, Transport, total_timeout_message

if TYPE_CHECKING:
    from collectorkit.http._config import ClientSettings
    from collectorkit.http._redact import CollectorLogger

__all__ = [
    "authority_prefix",
    "build_request",
    "default_transport",
    "encode_body",
    "error_kind",
    "join_url",
    "log_exchange",
    "mask_request_secrets",
    "redirect_request",
    "status_error",
    "within_total",
]


async def within_total(
    sent: Awaitable[RawResponse], request: Request, timeouts: TimeoutSettings
) -> RawResponse:
    """``sent`` (one request through a transport), cut at ``timeouts.total`` seconds: the read
    timeout bounds each wait for data, this the whole exchange, body included."""
    try:
        async with asyncio.timeout(timeouts.total):
            return await sent
    except TimeoutError as exc:
        if isinstance(exc, RequestTimeoutError):
            raise
        raise RequestTimeoutError(
            total_timeout_message(request.method, request.url, timeouts.total or 0.0)
        ) from None


def default_transport(
    *,
    http2: bool = False,
    max_connections: int = 100,
    max_keepalive_connections: int | None = None,
    verify: bool = True,
) -> Transport:
    """The transport a client uses unless given one: aiohttp for HTTP/1.1 (measured faster on
    JSON APIs, see ``bench/bench_http.py``); httpx2 when HTTP/2 is asked for, or when
    ``max_keepalive_connections`` is set — aiohttp keeps every idle connection up to
    ``max_connections`` and has no separate keep-alive cap, httpx2 honours it (20 when unset)."""
    if http2 or max_keepalive_connections is not None:
        from collectorkit.http._httpx_transport import HttpxTransport

        return HttpxTransport(
            http2=http2,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections or 20,
            verify=verify,
        )
    from collectorkit.http._aiohttp_transport import AiohttpTransport

    return AiohttpTransport(max_connections=max_connections, verify=verify)


def encode_body(json: Any, data: Any) -> tuple[bytes | None, str | None]:
    if json is not None:
        try:
            return orjson.dumps(json), "application/json"
        except orjson.JSONEncodeError as exc:
            raise ConfigError(f"cannot be encoded as JSON: {exc}", path="json") from None
    if data is None:
        return None, None
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        return data.encode(), None
    if isinstance(data, Mapping):
        return urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    raise ConfigError(f"must be bytes, str or a mapping, got {type(data).__name__}", path="data")


_SNIPPET = 200
"""How much of a failed response's body its error message quotes."""
_PARSE_LIMIT = 1 << 16
"""Bodies up to this size are parsed, so secret-named JSON fields are masked by name."""


def status_error(
    request: Request, response: Response, attempts: int, note: str = ""
) -> HTTPStatusError:
    """The error for a final error ``response``; ``note`` says more (e.g. a refused wait)."""
    status = response.status_code
    cls: type[HTTPStatusError]
    if status == 403 and quota_exhausted(response.headers):  # a spent quota, not a refusal
        cls = QuotaError
    elif status in (401, 403):
        cls = AuthenticationError
    elif status == 429:
        cls = QuotaError
    elif status >= 500:
        cls = ServiceError
    else:
        cls = ClientRequestError
    body = response.body if len(response.content) <= _PARSE_LIMIT else response.text[:_SNIPPET]
    snippet = mask_request_secrets(redact_body(body, _SNIPPET).strip(), request)
    message = (
        f"{request.method} {redact_url(response.url or request.full_url)} failed with status "
        f"{status} after {attempts} attempt(s)"
        + (f" ({note})" if note else "")
        + (f": {snippet}" if snippet else "")
    )
    return cls(message, request=request.redacted(), response=response)


def mask_request_secrets(text: str, request: Request) -> str:
    """``text`` (e.g. an echoed body) with the values of the request's sensitive headers and
    parameters masked, registered as secrets or not."""
    pairs = [*request.headers.items(), *request.params.items()]
    for name, value in pairs:
        if isinstance(value, str) and len(value) >= 4 and is_sensitive_name(name):
            text = text.replace(value, MASK)
    return text


def join_url(base: str, path: str) -> str:
    if not base:
        return path
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")


def redirect_request(request: Request, response: Response) -> Request:
    location = urljoin(request.url, response.headers["location"])
    status = response.status_code
    method = request.method
    if status == 303 or (status in (301, 302) and method == "POST"):
        new = request.copy(url=location, method="GET" if method != "HEAD" else method)
        new.content = None
        for name in ("content-type", "content-length"):
            new.headers.pop(name, None)
    else:
        new = request.copy(url=location)
    new.params = {}  # the Location is the full target, query included
    return new


def build_request(
    method: str,
    url: str,
    base_url: str | None,
    default_headers: dict[str, tuple[str, str]],
    params: Mapping[str, Any] | None,
    json: Any,
    data: Any,
) -> Request:
    """The request the default ``_prepare_request`` hook describes, built straight into a
    :class:`Request`: ``url`` joined to ``base_url`` unless absolute, the client's default
    headers (a ``Headers.items_dict()`` table, copied) and the encoded body with its type."""
    headers = Headers.__new__(Headers)  # no per-request rebuild of the defaults
    headers._items = default_headers.copy()
    content: bytes | None = None
    if json is not None or data is not None:
        content, content_type = encode_body(json, data)
        if content_type and "content-type" not in headers:  # a default Content-Type wins
            headers["Content-Type"] = content_type
    return Request(
        method,
        url if "://" in url else join_url(base_url or "", url),
        headers=headers,
        params=params,
        content=content,
    )


def log_exchange(
    log: CollectorLogger, config: ClientSettings, request: Request, response: Response
) -> None:
    """Debug lines (diagnostic mode only), as ``log_requests`` / ``log_responses`` /
    ``log_response_body`` ask; the logger redacts every field."""
    if config.log_requests:
        log.debug(
            "request",
            method=request.method,
            url=request.full_url,
            headers=dict(request.headers),
        )
    if config.log_responses:
        fields: dict[str, Any] = {
            "status": response.status_code,
            "elapsed_ms": round(response.elapsed_ms, 2),
            "bytes": len(response.content),
        }
        if config.log_response_body:
            body = response.body
            fields["body"] = body[:2000] if isinstance(body, str) else body
        log.debug("response", url=response.url, **fields)


def authority_prefix(url: str) -> str:
    """``scheme://authority/`` of an absolute URL (``"\\0"``, which starts no URL, otherwise):
    a URL starting with it has that URL's origin, no parsing needed."""
    start = url.find("://")
    if start < 0:
        return "\0"
    end = len(url)
    for mark in "/?#":
        found = url.find(mark, start + 3)
        if 0 <= found < end:
            end = found
    return url[:end] + "/"


def error_kind(error: TransportError) -> str:
    """``"timeout"`` or ``"connection"``: the retry and breaker policies' name for ``error``."""
    return "timeout" if isinstance(error, RequestTimeoutError) else "connection"
