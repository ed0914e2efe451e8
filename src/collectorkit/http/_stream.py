"""Streamed responses: a body handed out chunk by chunk as it arrives (SSE, long poll).

A transport that can stream implements :class:`StreamingTransport`: ``stream()`` opens the
response and yields its status, headers and an async iterator of body chunks (the transport's
exceptions translated, as for ``send``). Any other transport is streamed by :func:`open_stream`
reading the whole body with ``send`` and handing it out as one chunk, so a test's mock transport
serves a streaming source too.

:class:`StreamingClient` gives :class:`~collectorkit.APIClient` its ``stream()``: the send loop of
``request`` — rate limit, breaker, retries, the auth flow with its cross-origin rule, redirects,
metrics — with the body of the final 2xx response left for the caller to read.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from collectorkit._errors import RequestTimeoutError
from collectorkit.http._headers import HeadersInput
from collectorkit.http._models import Request, Response
from collectorkit.http._timeouts import TimeoutSettings
from collectorkit.http._transport import Transport

if TYPE_CHECKING:
    from collectorkit.http._metrics import ClientMetrics

__all__ = [
    "RawStream",
    "StreamedResponse",
    "StreamingClient",
    "StreamingTransport",
    "open_stream",
]

Transmit = Callable[..., Coroutine[Any, Any, Response]]


class RawStream(NamedTuple):
    """What a streaming transport yields: the status, the header pairs, the body's chunks."""

    status_code: int
    headers: Sequence[tuple[str, str]]
    chunks: AsyncIterator[bytes]


@runtime_checkable
class StreamingTransport(Transport, Protocol):
    """A :class:`~collectorkit.http.Transport` that can also hand a body out as it arrives;
    ``timeouts.read`` then bounds the wait for each chunk."""

    def stream(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: TimeoutSettings,
    ) -> AbstractAsyncContextManager[RawStream]: ...


@asynccontextmanager
async def open_stream(
    transport: Transport,
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]],
    content: bytes | None,
    timeouts: TimeoutSettings,
) -> AsyncIterator[RawStream]:
    """The response to one request, streamed when ``transport`` can, else read whole."""
    if isinstance(transport, StreamingTransport):
        async with transport.stream(method, url, headers, content, timeouts) as raw:
            yield raw
        return
    whole = await transport.send(method, url, headers, content, timeouts)
    yield RawStream(whole.status_code, whole.headers, one_chunk(whole.content))


async def one_chunk(content: bytes) -> AsyncIterator[bytes]:
    if content:
        yield content


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


class StreamedResponse(Response):
    """A :class:`~collectorkit.http.Response` whose body is read with :meth:`aiter_bytes` as it
    arrives (once). An error status has its body read already, in ``content``."""

    __slots__ = ("_chunks",)

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeadersInput,
        chunks: AsyncIterator[bytes],
        url: str,
        elapsed_ms: float,
        request: Request,
    ) -> None:
        super().__init__(
            status_code, headers=headers, url=url, elapsed_ms=elapsed_ms, request=request
        )
        self._chunks = chunks

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's chunks as they arrive; a failure reading them raises ``TransportError``
        (``RequestTimeoutError`` when no chunk came within the read timeout)."""
        return self._chunks

    async def aread(self) -> bytes:
        """The rest of the body, read whole (also kept in ``content``)."""
        self.content += await read_all(self._chunks)
        return self.content


class StreamingClient:
    """``stream()`` for :class:`~collectorkit.APIClient` (see the module docstring)."""

    __slots__ = ()

    if TYPE_CHECKING:
        # what the client class provides
        metrics: ClientMetrics
        timeouts: TimeoutSettings

        @property
        def transport(self) -> Transport: ...

        async def _new_request(
            self,
            method: str,
            url: str,
            params: Mapping[str, Any] | None,
            json: Any,
            data: Any,
            headers: Mapping[str, str] | None,
        ) -> Request: ...

        async def _send(
            self, request: Request, deadline: float | None, transmit: Transmit | None = None
        ) -> Response: ...

        def _timeouts_within(self, request: Request, deadline: float) -> TimeoutSettings: ...

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        """``async with client.stream("GET", url) as response:`` then ``async for chunk in
        response.aiter_bytes()``. Everything ``request`` applies applies until the headers
        arrive (a retryable status is retried, a 401 refreshes once, an error status raises as
        ``request`` does); the connection closes when the block ends."""
        metrics = self.metrics
        metrics.total_requests += 1
        async with AsyncExitStack() as kept:
            try:
                request = await self._new_request(method, url, params, json, data, headers)
                transmit = functools.partial(self._transmit_stream, kept)
                response = await self._send(request, deadline, transmit)
            except BaseException:
                metrics.failed_requests += 1
                raise
            metrics.successful_requests += 1
            assert isinstance(response, StreamedResponse)
            yield response

    async def _transmit_stream(
        self, kept: AsyncExitStack, request: Request, deadline: float | None = None
    ) -> Response:
        """One attempt: open the response; a 2xx stays open (closed with ``kept``), any other
        status is read whole and closed at once (the send loop may resend)."""
        timeouts = self.timeouts if deadline is None else self._timeouts_within(request, deadline)
        url = request.full_url
        perf = time.perf_counter()
        async with AsyncExitStack() as attempt:
            try:
                raw = await attempt.enter_async_context(
                    open_stream(
                        self.transport,
                        request.method,
                        url,
                        request.headers.pairs(),
                        request.content,
                        timeouts,
                    )
                )
            except RequestTimeoutError:
                self.metrics.timeouts += 1
                raise
            elapsed_ms = (time.perf_counter() - perf) * 1000.0
            self.metrics.observe_response_time(elapsed_ms)
            status, chunks, content = raw.status_code, raw.chunks, b""
            if 200 <= status < 300:
                kept.push_async_exit(attempt.pop_all())
            else:
                content, chunks = await read_all(chunks), one_chunk(b"")
        if status in (401, 403):
            self.metrics.auth_errors += 1
        response = StreamedResponse(
            status,
            headers=raw.headers,
            chunks=chunks,
            url=url,
            elapsed_ms=elapsed_ms,
            request=request,
        )
        response.content = content
        return response
