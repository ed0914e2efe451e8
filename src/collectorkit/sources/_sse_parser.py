"""A Server-Sent Events parser per the WHATWG HTML spec ("Interpreting an event stream"), sans I/O.

Feed it bytes as they arrive; it returns the events completed so far. It handles CR, LF and CRLF
line ends (also split across chunks), a leading BOM, comments (heartbeats), multi-line ``data``,
``id`` persisting across events (and ignored when it contains NUL), ``retry`` (digits only), and
drops an event without ``data``. An unterminated event at the end of the stream is discarded, as
the spec requires.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEParser", "ServerSentEvent"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event. ``id`` is the last event id in force (``""`` when none was sent)."""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None
    """The reconnection time in milliseconds this event's block set, if any."""
    has_id: bool = False
    """Whether this event's own block had an ``id`` line (else ``id`` is inherited)."""


class SSEParser:
    """Incremental parser; ``last_event_id`` survives across events as the spec says."""

    def __init__(self, *, last_event_id: str = "") -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._started = False
        self._trailing_cr = False
        self._data: list[str] = []
        self._event = ""
        self._retry: int | None = None
        self._has_id = False
        self.last_event_id = last_event_id
        self.reconnection_ms: int | None = None
        """The latest ``retry:`` the server sent: how long to wait before reconnecting."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events completed by ``chunk``."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._trailing_cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CRLF split across chunks
        self._trailing_cr = text.endswith("\r")
        events: list[ServerSentEvent] = []
        lines = (self._pending + text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._pending = lines.pop()
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
                self._has_id = True
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = self.reconnection_ms = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event, retry, has_id = self._data, self._event, self._retry, self._has_id
        self._data, self._event, self._retry, self._has_id = [], "", None, False
        if not data:
            return None
        return ServerSentEvent(
            data="\n".join(data),
            event=event or "message",
            id=self.last_event_id,
            retry=retry,
            has_id=has_id,
        )
