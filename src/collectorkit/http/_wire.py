"""What goes on the wire and what comes back: bodies, URLs, redirects, status errors, and the
default transport. Pure helpers of the send loop in ``_client``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urljoin

import orjson

from collectorkit._errors import (
    AuthenticationError,
    ClientRequestError,
    ConfigError,
    HTTPStatusError,
    QuotaError,
    ServiceError,
)
from collectorkit.http._models import Request, Response
from collectorkit.http._redact import MASK, is_sensitive_name, redact_text, redact_url
from collectorkit.http._transport import Transport

__all__ = [
    "default_transport",
    "encode_body",
    "join_url",
    "mask_request_secrets",
    "redirect_request",
    "status_error",
]


def default_transport(
    *,
    http2: bool = False,
    max_connections: int = 100,
    max_keepalive_connections: int = 20,
    verify: bool = True,
) -> Transport:
    """The transport a client uses unless given one: aiohttp for HTTP/1.1 (measured faster on
    JSON APIs, see ``bench/bench_http.py``), httpx2 when HTTP/2 is asked for."""
    if http2:
        from collectorkit.http._httpx_transport import HttpxTransport

        return HttpxTransport(
            http2=True,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
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


def status_error(request: Request, response: Response, attempts: int) -> HTTPStatusError:
    status = response.status_code
    cls: type[HTTPStatusError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 429:
        cls = QuotaError
    elif status >= 500:
        cls = ServiceError
    else:
        cls = ClientRequestError
    snippet = mask_request_secrets(redact_text(response.text[:200].strip()), request)
    message = (
        f"{request.method} {redact_url(response.url or request.full_url)} failed with status "
        f"{status} after {attempts} attempt(s)" + (f": {snippet}" if snippet else "")
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
