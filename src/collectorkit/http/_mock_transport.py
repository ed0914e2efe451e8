"""A transport that answers from a function, for tests (like ``httpx.MockTransport``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence

from collectorkit.http._models import Request, Response
from collectorkit.http._timeouts import TimeoutSettings
from collectorkit.http._transport import RawResponse

__all__ = ["MockTransport"]

Handler = Callable[[Request], "Response | Awaitable[Response]"]


class MockTransport:
    """Calls ``handler(request)`` (sync or async) for each request and returns its
    :class:`Response`; the handler may raise ``TransportError`` / ``RequestTimeoutError`` to
    simulate network failures. Every request sent is kept in ``requests``, credentials included,
    so tests can assert what went on the wire."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def send(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: TimeoutSettings,
    ) -> RawResponse:
        request = Request(method, url, headers=headers, content=content)
        self.requests.append(request)
        result = self.handler(request)
        response = await result if inspect.isawaitable(result) else result
        return RawResponse(response.status_code, response.headers.pairs(), response.content)

    async def aclose(self) -> None:
        self.closed = True
