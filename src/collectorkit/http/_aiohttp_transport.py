"""The aiohttp transport: HTTP/1.1 with connection pooling, the fastest path on plain JSON APIs.

The only module that imports aiohttp; its exceptions become ours here. The session is opened on
first use, inside the running event loop, and has no cookie jar (cookies never leak between
origins or collectors).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiohttp
from yarl import URL

from collectorkit._errors import TransportError
from collectorkit.http._stream import RawStream
from collectorkit.http._timeouts import TimeoutSettings
from collectorkit.http._transport import (
    RawResponse,
    check_loop,
    response_too_large,
    transport_error,
)

__all__ = ["AiohttpTransport"]

_FAILURES = (TimeoutError, aiohttp.ClientError, ValueError)
"""What aiohttp raises for a request that did not complete (a timeout is also a ClientError)."""


class AiohttpTransport:
    """A pooled ``aiohttp.ClientSession`` (HTTP/1.1). It applies ``timeouts.total`` to
    :meth:`send` itself (aiohttp's total timeout covers the body read), so the client does not
    wrap it in a second timer."""

    enforces_total = True

    def __init__(self, *, max_connections: int = 100, verify: bool = True) -> None:
        self._max_connections = max_connections
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[tuple[float, float, float | None], aiohttp.ClientTimeout] = {}

    def _session_here(self) -> aiohttp.ClientSession:
        """The session, opened on first use; using it from another event loop is an error."""
        session = self._session or self._open()
        if self._loop is not asyncio.get_running_loop():
            check_loop(self._loop, "AiohttpTransport")
        return session

    def _open(self) -> aiohttp.ClientSession:
        self._loop = check_loop(self._loop, "AiohttpTransport")
        connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._verify)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
        )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: TimeoutSettings,
    ) -> RawResponse:
        session = self._session_here()
        timeout = self._timeout(timeouts, timeouts.total)
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                headers=headers if type(headers) is list else list(headers),
                data=content,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                body = await _read(response, method, url, timeouts.max_response_size)
                return RawResponse(response.status, list(response.headers.items()), body)
        except _FAILURES as exc:
            if isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ServerTimeoutError):
                raise transport_error(
                    method, url, exc, timed_out=True, total=timeouts.total
                ) from None
            raise _error(method, url, exc) from None

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
        session = self._session_here()
        try:
            response = await session.request(
                method,
                URL(url, encoded=True),
                headers=list(headers),
                data=content,
                allow_redirects=False,
                timeout=self._timeout(timeouts, None),
            )
        except _FAILURES as exc:
            raise _error(method, url, exc) from None
        async with response:
            chunks = _chunks(response, method, url)
            yield RawStream(response.status, list(response.headers.items()), chunks)

    def _timeout(self, timeouts: TimeoutSettings, total: float | None) -> aiohttp.ClientTimeout:
        """The aiohttp timeout for ``timeouts`` with ``total`` (``None`` for a stream, which
        lasts as long as its events come), built once per distinct (connect, read, total)."""
        key = (timeouts.connect, timeouts.read, total)
        timeout = self._timeouts.get(key)
        if timeout is None:
            if len(self._timeouts) >= 64:  # deadline-capped values vary: keep the table small
                self._timeouts.clear()
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                total=total, connect=timeouts.connect, sock_read=timeouts.read
            )
        return timeout

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
            self._loop = None


async def _read(response: aiohttp.ClientResponse, method: str, url: str, limit: int) -> bytes:
    """The whole body, refused past ``limit`` bytes: by its Content-Length before reading, or
    (no length, or a compressed body that may grow) as it arrives."""
    length = response.content_length
    if length is not None and length > limit:
        raise response_too_large(method, url, length, limit, announced=True)
    if length is not None and "Content-Encoding" not in response.headers:
        return await response.read()
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise response_too_large(method, url, limit, limit, announced=False)
    return bytes(body)


async def _chunks(response: aiohttp.ClientResponse, method: str, url: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except _FAILURES as exc:
        raise _error(method, url, exc) from None


def _error(method: str, url: str, exc: BaseException) -> TransportError:
    return transport_error(method, url, exc, timed_out=isinstance(exc, TimeoutError))
