"""A Server-Sent Events feed as a data source (``text/event-stream`` over HTTP GET).

Reconnects with backoff (honouring the server's ``retry:``) and resumes with the
``Last-Event-ID`` header. Each event's ``data`` is parsed as JSON: an object is one record, an
array is several; anything else becomes ``{"data": <text>}`` so that nothing is dropped silently.
The stream is read through ``collectorkit.http`` (:class:`HTTPStreamingSource`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Unpack

import orjson

from collectorkit._durations import Seconds
from collectorkit._records import Record, lookup_path
from collectorkit.http import (
    Response,
    TimeoutSettings,
)
from collectorkit.sources._http_stream import HTTPStreamingSource, HTTPStreamOptions
from collectorkit.sources._sse_parser import ServerSentEvent, SSEParser
from collectorkit.sources._stream import FatalSourceError, StreamEvent

__all__ = ["SSESource", "records_from_text"]


def records_from_text(text: str, *, data_path: str | None = None) -> list[Record]:
    """Records in a message: a JSON object, an array of objects, or ``{"data": text}``."""
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return [{"data": text}]
    if data_path:
        value = lookup_path(value, data_path)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"data": v} for v in value]
    return [] if value is None else [{"data": value}]


class SSESource(HTTPStreamingSource):
    """Events from ``url`` (see :class:`StreamingSource` for batching, bounds and checkpoints).

    ``event_types`` keeps only those event names (default: all). ``idle_timeout`` is how long a
    silent connection (no event, no heartbeat comment) is trusted before reconnecting. ``auth``
    is any auth handler; pass your own ``client`` (an :class:`~collectorkit.APIClient`) to share
    a connection pool and policies; it is then not closed by :meth:`aclose`. The keyword
    arguments every HTTP stream takes are :class:`HTTPStreamOptions`.
    """

    def __init__(
        self,
        url: str,
        *,
        event_types: set[str] | None = None,
        data_path: str | None = None,
        idle_timeout: Seconds = 90.0,
        connect_timeout: Seconds = 10.0,
        **options: Unpack[HTTPStreamOptions],
    ) -> None:
        super().__init__(url, **options)
        self.event_types = event_types
        self.data_path = data_path
        self._timeouts = TimeoutSettings(connect=connect_timeout, read=idle_timeout)

    def _client_timeouts(self) -> TimeoutSettings:
        return self._timeouts

    def _request_headers(self, resume_token: str | None) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **self._headers}
        if resume_token:
            headers["Last-Event-ID"] = resume_token
        return headers

    async def _read(self, resume_token: str | None) -> AsyncGenerator[StreamEvent, None]:
        parser = SSEParser(last_event_id=resume_token or "")
        async with self._get(self._params, self._request_headers(resume_token)) as response:
            self._check(response)
            async for chunk in response.aiter_bytes():
                for sse in parser.feed(chunk):
                    event = self._event(sse, parser)
                    if event is not None:
                        yield event

    def _check(self, response: Response) -> None:
        content_type = response.headers.get("content-type") or ""
        if not content_type.startswith("text/event-stream"):
            raise FatalSourceError(
                f"{self._where} is not an event stream (content-type {content_type!r})"
            )

    def _event(self, sse: ServerSentEvent, parser: SSEParser) -> StreamEvent | None:
        delay = parser.reconnection_ms / 1000 if parser.reconnection_ms is not None else None
        if self.event_types is not None and sse.event not in self.event_types:
            return StreamEvent([], event_id=None, token=sse.id or None, server_delay=delay)
        return StreamEvent(
            records_from_text(sse.data, data_path=self.data_path),
            event_id=sse.id if sse.has_id and sse.id else None,
            token=sse.id or None,
            server_delay=delay,
        )
