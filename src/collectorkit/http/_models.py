"""Our request and response: what auth handlers, hooks, errors and callers see.

Neither is tied to a transport library; the transport seam only moves method, URL, headers and
bytes. The JSON body of a response is parsed with orjson, once, on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from collectorkit._errors import ResponseDecodeError
from collectorkit.http._headers import Headers, HeadersInput
from collectorkit.http._redact import MASK, is_sensitive_name, redact, redact_url

__all__ = ["Request", "Response", "merge_params", "origin_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an absolute URL, with the default port filled in."""
    start = url.find("://")
    end = url.find("/", start + 3) if start >= 0 else -1
    for mark in "?#":
        cut = url.find(mark, start + 3)
        if cut >= 0 and (end < 0 or cut < end):
            end = cut
    return _origin(url if end < 0 else url[:end])


@functools.lru_cache(maxsize=256)
def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def merge_params(url: str, params: Mapping[str, Any] | None) -> str:
    """``url`` with ``params`` added to its query (lists repeat the name; ``None`` is skipped)."""
    if not params:
        return url
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else (value,)
        pairs.extend((name, _param_text(v)) for v in values)
    if not pairs:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(pairs)}" if parts.query else urlencode(pairs)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Request:
    """One HTTP request before it is sent. Auth handlers may change ``headers`` and ``params``."""

    __slots__ = ("content", "headers", "method", "params", "url")

    def __init__(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersInput = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
    ) -> None:
        self.method = method.upper()
        self.url = url
        # ``type() is`` first: isinstance against a Mapping ABC subclass is slow on a hot path
        if type(headers) is not Headers and (
            type(headers) is list or not isinstance(headers, Headers)
        ):
            headers = Headers(headers)
        self.headers = headers
        self.params: dict[str, Any] = dict(params or {})
        self.content = content

    @property
    def full_url(self) -> str:
        """The URL with ``params`` merged into its query string: what goes on the wire."""
        return merge_params(self.url, self.params) if self.params else self.url

    @property
    def origin(self) -> tuple[str, str, int]:
        return origin_of(self.url)

    def copy(self, *, url: str | None = None, method: str | None = None) -> Request:
        new = Request.__new__(Request)
        new.method = method.upper() if method else self.method
        new.url = self.url if url is None else url
        headers = new.headers = Headers.__new__(Headers)  # Headers.copy, without the call
        headers._items = self.headers._items.copy()
        new.params = self.params.copy()
        new.content = self.content
        return new

    def redacted(self) -> Request:
        """A copy safe to log or attach to an error: secrets by name and by value masked."""
        headers = Headers({k: MASK if is_sensitive_name(k) else v for k, v in self.headers.items()})
        request = Request(self.method, redact_url(self.url), headers=headers)
        request.params = redact(self.params)
        request.content = None if self.content is None else b"<redacted>"
        return request

    def __repr__(self) -> str:
        return f"<Request {self.method} {redact_url(self.full_url)}>"


class Response:
    """An HTTP response with its whole body read.

    ``body`` is the parsed JSON when the body is JSON, else the text (seed 004's
    ``response.body``); ``json()`` insists on JSON and raises :class:`ResponseDecodeError`.
    ``metadata`` is a free dict for ``_handle_response`` hooks.
    """

    __slots__ = (
        "_json",
        "_request",
        "content",
        "elapsed_ms",
        "headers",
        "metadata",
        "status_code",
        "url",
    )

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeadersInput = None,
        content: bytes = b"",
        url: str = "",
        elapsed_ms: float = 0.0,
        request: Request | None = None,
    ) -> None:
        self.status_code = status_code
        if type(headers) is not Headers and (
            type(headers) is list or not isinstance(headers, Headers)
        ):
            headers = Headers(headers)
        self.headers = headers
        self.content = content
        self.url = url
        self.elapsed_ms = elapsed_ms
        self.metadata: dict[str, Any] = {}
        self._request = request
        self._json: Any = _UNSET

    @property
    def request(self) -> Request | None:
        """The request that produced this response, redacted."""
        return None if self._request is None else self._request.redacted()

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    @property
    def encoding(self) -> str:
        content_type = self.headers.get("content-type", "") or ""
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (orjson), cached; invalid JSON raises ResponseDecodeError."""
        if self._json is _UNSET:
            try:
                self._json = orjson.loads(self.content)
            except orjson.JSONDecodeError as exc:
                raise ResponseDecodeError(
                    f"response from {redact_url(self.url)} is not valid JSON "
                    f"(status {self.status_code}, {len(self.content)} bytes): {exc}",
                    request=self.request,
                    response=self,
                ) from None
        return self._json

    @property
    def body(self) -> Any:
        """The JSON value when the body parses as JSON, else the text ("" when empty)."""
        if not self.content:
            return ""
        try:
            return self.json()
        except ResponseDecodeError:
            return self.text

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {redact_url(self.url)}>"


_UNSET: Any = object()
