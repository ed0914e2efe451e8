"""The storage service's HTTP/1.1 protocol: uvicorn's h11 protocol with a request-head deadline.

uvicorn's keep-alive timer stops at the first byte a client sends, so a client that trickles its
request line and headers one byte at a time (slowloris) holds a connection open forever. Here
each request's head must be complete within ``header_timeout`` seconds of the connection opening
or of the previous response; otherwise the connection is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from collectorkit._errors import ConfigError

__all__ = ["DEFAULT_HEADER_TIMEOUT", "header_deadline_protocol"]

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a complete request line and headers."""


class _HeaderDeadlineProtocol(H11Protocol):
    header_timeout = DEFAULT_HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._awaited_cycle: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not self._awaited_cycle:  # a new request's head was parsed
            self._disarm()

    def on_response_complete(self) -> None:
        finished = self.cycle
        super().on_response_complete()  # may already parse a pipelined request's head
        if self.cycle is finished and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._awaited_cycle = self.cycle
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.cycle is self._awaited_cycle and not self.transport.is_closing():
            self.transport.close()


def header_deadline_protocol(header_timeout: float) -> type[H11Protocol]:
    """The protocol class to give ``uvicorn.Config(http=...)``."""
    if not header_timeout > 0:
        raise ConfigError(f"must be > 0 seconds, got {header_timeout!r}", path="header_timeout")
    return type(
        "HeaderDeadlineProtocol", (_HeaderDeadlineProtocol,), {"header_timeout": header_timeout}
    )
