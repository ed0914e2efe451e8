"""A WebSocket feed as a data source (the ``websockets`` library).

Each text (or UTF-8 binary) message is JSON: an object is one record, an array several, a
``data_path`` picks the records out of an envelope. The event id is read from each record's
``id_field``; the id of the last record handed out is the resume token. On reconnect the token is
offered the ways servers accept one: a header (``resume_header``, default ``Last-Event-ID``), a
query parameter (``resume_param``) and/or a first message (``resume_message(token)``). A
``subscribe_message`` is sent on every connect. This module is the one place ``websockets``
exceptions are translated.

The handshake is not HTTP request/response, but it takes its credentials the same way: it is one
request of the ``auth`` handler's flow (a 401 refreshes the credentials once and retries), and a
redirect to another origin (not the URL's, not in ``allowed_hosts``) goes without them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any, Unpack
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers as WSHeaders
from websockets.exceptions import InvalidStatus, WebSocketException

from collectorkit._durations import Seconds, parse_duration
from collectorkit._errors import SourceError
from collectorkit._records import Record, lookup_path
from collectorkit.http import AuthHandler, NoAuth, Request, Response, redact_url
from collectorkit.http._auth import strip_credentials, trusts_origin
from collectorkit.http._models import origin_of
from collectorkit.sources._http_stream import status_error
from collectorkit.sources._sse import records_from_text
from collectorkit.sources._stream import (
    StreamEvent,
    StreamingSource,
    StreamOptions,
    register_header_secrets,
)

__all__ = ["WebSocketSource"]

Message = Mapping[str, Any] | str


class _Connect(connect):
    """``websockets``' connect with our cross-origin rule on redirects (it only drops
    ``Authorization`` and cookies; an API-key header must go too)."""

    def __init__(self, uri: str, *, allowed_hosts: frozenset[str], **options: Any) -> None:
        super().__init__(uri, **options)
        self._trusted = origin_of(uri)
        self._allowed = allowed_hosts

    def process_redirect(self, exc: Exception) -> Exception | str:
        target = super().process_redirect(exc)
        if isinstance(target, str) and not trusts_origin(
            origin_of(target), self._trusted, self._allowed
        ):
            headers = WSHeaders(self.additional_headers or {}).raw_items()
            request = Request("GET", target, headers=list(headers))
            strip_credentials(request)
            self.additional_headers = request.headers.pairs()
        return target


class WebSocketSource(StreamingSource):
    """Messages from a ``ws://`` or ``wss://`` ``url`` (batching: :class:`StreamingSource`)."""

    def __init__(
        self,
        url: str,
        *,
        source_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        id_field: str = "id",
        data_path: str | None = None,
        subscribe_message: Message | None = None,
        resume_header: str | None = "Last-Event-ID",
        resume_param: str | None = None,
        resume_message: Callable[[str], Message | None] | None = None,
        open_timeout: Seconds = 10.0,
        close_timeout: Seconds = 2.0,
        ping_interval: Seconds | None = 20.0,
        auth: AuthHandler | None = None,
        allowed_hosts: Sequence[str] = (),
        **options: Unpack[StreamOptions],
    ) -> None:
        super().__init__(source_id=source_id or url, **options)
        self.url = url
        self.auth = auth or NoAuth()
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self._headers = dict(headers or {})
        register_header_secrets(self._headers)
        self.id_field = id_field
        self.data_path = data_path
        self.subscribe_message = subscribe_message
        self.resume_header = resume_header
        self.resume_param = resume_param
        self.resume_message = resume_message
        self._open_timeout = parse_duration(open_timeout, field="open_timeout")
        self._close_timeout = parse_duration(close_timeout, field="close_timeout")
        self._ping_interval = (
            None if ping_interval is None else parse_duration(ping_interval, field="ping_interval")
        )

    def __repr__(self) -> str:
        return f"WebSocketSource(url={redact_url(self.url)!r}, source_id={self.source_id!r})"

    def _target(self, token: str | None) -> tuple[str, dict[str, str]]:
        headers = dict(self._headers)
        url = self.url
        if token and self.resume_header:
            headers[self.resume_header] = token
        if token and self.resume_param:
            parts = urlsplit(url)
            query = [(k, v) for k, v in parse_qsl(parts.query) if k != self.resume_param]
            url = urlunsplit(parts._replace(query=urlencode([*query, (self.resume_param, token)])))
        return url, headers

    async def _read(self, resume_token: str | None) -> AsyncGenerator[StreamEvent, None]:
        url, headers = self._target(resume_token)
        try:
            async with await self._handshake(url, headers) as ws:
                await self._greet(ws, resume_token)
                leaving = True
                try:
                    async for message in ws:
                        for record in self._records(message):
                            yield self._event(record)
                    leaving = False
                finally:
                    if leaving:
                        # We are going away (disconnect, stop) with messages still queued: a
                        # closing handshake would wait behind them until close_timeout. Drop
                        # the connection instead; the server replays from our checkpoint.
                        ws.transport.abort()
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise status_error(
                status, f"{self.source_id}: {redact_url(url)} refused the upgrade: {status}"
            ) from exc
        except (WebSocketException, OSError, TimeoutError) as exc:
            raise SourceError(
                f"{self.source_id}: {type(exc).__name__} on {redact_url(url)}: {exc}"
            ) from exc

    async def _handshake(self, url: str, headers: dict[str, str]) -> ClientConnection:
        """The opening handshake as one request of the auth flow (see the module docstring)."""
        opened: list[ClientConnection] = []

        async def send(request: Request) -> Response:
            try:
                ws = await _Connect(
                    request.full_url,
                    allowed_hosts=self.allowed_hosts,
                    additional_headers=request.headers.pairs(),
                    open_timeout=self._open_timeout,
                    close_timeout=self._close_timeout,
                    ping_interval=self._ping_interval,
                    proxy=None,
                )
            except InvalidStatus as exc:  # the flow decides: a 401 may refresh and retry once
                if exc.response.status_code != 401:
                    raise
                return Response(401, url=request.url, request=request)
            opened.append(ws)
            return Response(101, url=request.url, request=request)

        response = await self.auth.authenticate(
            Request("GET", url, headers=headers), trusted=True, send=send
        )
        if not opened:
            raise status_error(
                response.status_code,
                f"{self.source_id}: {redact_url(url)} refused the upgrade: {response.status_code}",
            )
        return opened[-1]

    async def _greet(self, ws: ClientConnection, token: str | None) -> None:
        if self.subscribe_message is not None:
            await ws.send(self._encode(self.subscribe_message))
        if token and self.resume_message is not None:
            message = self.resume_message(token)
            if message is not None:
                await ws.send(self._encode(message))

    def _records(self, message: str | bytes) -> list[Record]:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        return records_from_text(text, data_path=self.data_path)

    @staticmethod
    def _encode(message: Message) -> str:
        return message if isinstance(message, str) else orjson.dumps(dict(message)).decode()

    def _event(self, record: Record) -> StreamEvent:
        event_id = lookup_path(record, self.id_field)
        token = None if event_id is None else str(event_id)
        return StreamEvent([record], event_id=token, token=token)
