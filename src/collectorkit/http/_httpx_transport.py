"""The httpx2 transport: connection pooling, and HTTP/2 when ``h2`` is installed and asked for.

The only module that imports httpx2; its exceptions become ours here.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx2

from collectorkit._errors import TransportError
from collectorkit.http._redact import get_logger
from collectorkit.http._stream import RawStream
from collectorkit.http._timeouts import TimeoutSettings
from collectorkit.http._transport import (
    RawResponse,
    check_loop,
    response_too_large,
    transport_error,
)

__all__ = ["HttpxTransport"]

_FAILURES = (httpx2.HTTPError, httpx2.InvalidURL)
"""What httpx2 raises for a request that did not complete (timeouts included)."""

_log = get_logger("collectorkit.http")


def h2_available() -> bool:
    return importlib.util.find_spec("h2") is not None


class HttpxTransport:
    """A pooled ``httpx2.AsyncClient``. ``http2=True`` negotiates HTTP/2 over TLS when the ``h2``
    package is installed; without it the transport logs at INFO and speaks HTTP/1.1."""

    def __init__(
        self,
        *,
        http2: bool = False,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
        verify: bool = True,
    ) -> None:
        if http2 and not h2_available():
            _log.info("h2 is not installed; using HTTP/1.1 (pip install 'collectorkit[http2]')")
            http2 = False
        self.http2 = http2
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = httpx2.AsyncClient(
            http2=http2,
            verify=verify,
            follow_redirects=False,
            trust_env=False,
            limits=httpx2.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
            ),
        )

    async def send(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: TimeoutSettings,
    ) -> RawResponse:
        self._loop = check_loop(self._loop, "HttpxTransport")
        request = self._client.build_request(
            method, url, headers=list(headers), content=content, timeout=_timeout(timeouts)
        )
        try:
            response = await self._client.send(request, stream=True)
            try:
                body = await _read(response, method, url, timeouts.max_response_size)
            finally:
                await response.aclose()
        except _FAILURES as exc:
            raise _error(method, url, exc) from None
        return RawResponse(response.status_code, response.headers.multi_items(), body)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: TimeoutSettings,
    ) -> AsyncIterator[RawStream]:
        """The response with its body handed out as it arrives (``timeouts.read`` per chunk)."""
        self._loop = check_loop(self._loop, "HttpxTransport")
        request = self._client.build_request(
            method, url, headers=list(headers), content=content, timeout=_timeout(timeouts)
        )
        try:
            response = await self._client.send(request, stream=True)
        except _FAILURES as exc:
            raise _error(method, url, exc) from None
        try:
            chunks = _chunks(response, method, url)
            yield RawStream(response.status_code, response.headers.multi_items(), chunks)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()


def _timeout(timeouts: TimeoutSettings) -> httpx2.Timeout:
    return httpx2.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=timeouts.connect
    )


async def _read(response: httpx2.Response, method: str, url: str, limit: int) -> bytes:
    """The whole (decoded) body, refused past ``limit`` bytes: by its Content-Length before
    reading, or as it arrives."""
    length = response.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise response_too_large(method, url, int(length), limit, announced=True)
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise response_too_large(method, url, limit, limit, announced=False)
    return bytes(body)


async def _chunks(response: httpx2.Response, method: str, url: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except _FAILURES as exc:
        raise _error(method, url, exc) from None


def _error(method: str, url: str, exc: BaseException) -> TransportError:
    return transport_error(method, url, exc, timed_out=isinstance(exc, httpx2.TimeoutException))
