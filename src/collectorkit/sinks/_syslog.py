"""Syslog sink: RFC 5424 messages over TCP or TLS (RFC 5425), optionally carrying CEF.

At-least-once, and no more: syslog over TCP has no application-level acknowledgement. A page
counts as stored when every frame of it was written and the socket flushed (``drain``) without
an error; a connection that fails meanwhile is opened again and the whole page re-sent once,
so a receiver may see a record twice (each message carries the record key: the structured-data
parameter ``key`` in RFC 5424, ``externalId`` in CEF). What the kernel had accepted when the
peer died without a reset can still be lost; a destination that must not lose events needs an
acknowledging protocol (Splunk HEC with indexer acknowledgement, Kafka with ``acks=all``).

Frames use octet counting (RFC 6587 §3.4.1: ``<length> <message>``), which every modern receiver
(rsyslog, syslog-ng, Splunk, QRadar) reads and which survives newlines in a record;
``framing="lf"`` ends each message with a newline instead, for receivers that only split lines
(newlines inside the message are then escaped).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from collectorkit._errors import ConfigError, SinkError
from collectorkit._instants import instant_or_none
from collectorkit._records import Envelope, lookup_path
from collectorkit.sinks._base import BaseSink, dump_json, result_for
from collectorkit.sinks._network import check_choice, client_tls_context
from collectorkit.sinks._syslog_format import CEFFormat, check_printable, escape_sd, priority
from collectorkit.typing import QueryCriteria, StoreResult

__all__ = ["SyslogSink"]

_TRANSPORTS = {"tcp": 514, "tls": 6514}
_FORMATS = ("rfc5424", "cef")
_FRAMINGS = ("octet-counting", "lf")


class SyslogSink(BaseSink):
    """Writes each record as one RFC 5424 message to ``host``:``port`` over ``transport``
    (``tcp``, default port 514, or ``tls``, default 6514).

    ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG``: PRI from ``facility`` (name,
    e.g. ``local0``, or 0-23) and ``severity`` (name or 0-7); TIMESTAMP from the record's
    ``time_field`` (now when absent); HOSTNAME ``hostname`` (this machine's name by default);
    MSGID the record's source name (at most 32 characters); SD ``[<sd_id> key="…"
    source="…"]``. MSG is the record as JSON, or with ``format="cef"`` a CEF line whose header
    and extension fields come from ``cef_fields`` (CEF key → dotted record path; the header keys
    are ``signature_id``, ``name`` and ``severity``) with ``cef_vendor``, ``cef_product`` and
    ``cef_version`` as the device fields.

    TLS verifies the server against the system's roots or ``tls_ca_file``; ``tls_cert_file`` and
    ``tls_key_file`` present a client certificate. Not queryable.
    """

    name = "syslog"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        transport: str = "tcp",
        format: str = "rfc5424",
        framing: str = "octet-counting",
        facility: str | int = "local0",
        severity: str | int = "info",
        app_name: str = "collectorkit",
        hostname: str | None = None,
        procid: str | None = None,
        sd_id: str = "collectorkit@32473",
        time_field: str | None = None,
        cef_vendor: str = "collectorkit",
        cef_product: str = "collectorkit",
        cef_version: str = "1",
        cef_fields: Mapping[str, str] | None = None,
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        verify: bool = True,
        timeout: float = 30.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        check_choice(transport, tuple(_TRANSPORTS), "transport")
        check_choice(format, _FORMATS, "format")
        check_choice(framing, _FRAMINGS, "framing")
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            raise ConfigError(f"expected a TCP port 1-65535, got {port!r}", path="port")
        if timeout <= 0:
            raise ConfigError(f"must be > 0 seconds, got {timeout!r}", path="timeout")
        self.host = host
        self.port = port or _TRANSPORTS[transport]
        self.transport = transport
        self.format = format
        self.framing = framing
        self.pri = priority(facility, severity)
        self.app_name = check_printable(app_name, 48, "app_name")
        self.hostname = check_printable(hostname or socket.gethostname() or "-", 255, "hostname")
        self.procid = check_printable(procid or str(os.getpid()), 128, "procid")
        self.sd_id = check_printable(sd_id, 32, "sd_id")
        self.time_field = time_field
        self.cef = (
            CEFFormat(cef_vendor, cef_product, cef_version, dict(cef_fields or {}))
            if format == "cef"
            else None
        )
        if cef_fields and format != "cef":
            raise ConfigError("cef_fields needs format: cef", path="cef_fields")
        self.timeout = timeout
        self._ssl = _ssl_context(transport, verify, tls_ca_file, tls_cert_file, tls_key_file)
        self._writer: asyncio.StreamWriter | None = None
        self._turn: asyncio.Lock | None = None  # one page at a time on the connection

    def __repr__(self) -> str:
        return f"SyslogSink({self.location!r}, format={self.format!r})"

    @property
    def location(self) -> str:
        return f"{self.transport}://{self.host}:{self.port}"

    # -- messages ---------------------------------------------------------------------------
    def message(self, envelope: Envelope) -> bytes:
        """The RFC 5424 message of one record (without framing)."""
        when = None
        if self.time_field is not None:
            when = instant_or_none(lookup_path(envelope.data, self.time_field))
        stamp = (when or datetime.now(UTC)).isoformat(timespec="microseconds")
        msgid = check_printable(envelope.source[:32] or "-", 32, None)
        sd = f'[{self.sd_id} key="{escape_sd(envelope.key)}" source="{escape_sd(envelope.source)}"]'
        head = f"<{self.pri}>1 {stamp.replace('+00:00', 'Z')} {self.hostname} {self.app_name} "
        head += f"{self.procid} {msgid} {sd} "
        body = dump_json(envelope.data) if self.cef is None else self.cef.line(envelope).encode()
        return head.encode() + body

    def _frame(self, message: bytes) -> bytes:
        if self.framing == "lf":
            return message.replace(b"\n", b"\\n") + b"\n"
        return b"%d %s" % (len(message), message)

    # -- the connection ---------------------------------------------------------------------
    async def _connect(self) -> asyncio.StreamWriter:
        if self._writer is not None:
            if not self._writer.is_closing() and _peer_is_there(self._writer):
                return self._writer
            await self._drop()
        started = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                ),
                self.timeout,
            )
            if self._ssl is not None:
                await _accepted(reader, settle=max(0.25, 3 * (time.monotonic() - started)))
        except (OSError, TimeoutError, ssl.SSLError, EOFError) as exc:
            raise SinkError(
                f"syslog {self.name}: cannot connect to {self.location}: {exc!r}"
            ) from None
        self._writer = writer
        return writer

    async def _drop(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            # the connection is being discarded, often because it failed
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _write(self, data: bytes) -> None:
        writer = await self._connect()
        writer.write(data)
        await asyncio.wait_for(writer.drain(), self.timeout)

    async def _open(self) -> None:
        self._turn = asyncio.Lock()  # made on the loop that uses it (sync calls bring their own)

    async def _close(self) -> None:
        await self._drop()

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        data = b"".join(self._frame(self.message(e)) for e in batch)
        if self._turn is None:  # pragma: no cover - store() connects first
            self._turn = asyncio.Lock()
        async with self._turn:  # concurrent pages must not each open a connection
            await self._send(data)
        return result_for(self, self.location, batch, len(batch))

    async def _send(self, data: bytes) -> None:
        try:
            await self._write(data)
        except (OSError, TimeoutError, ssl.SSLError):
            await self._drop()  # a stale or broken connection: one fresh attempt, whole page
            try:
                await self._write(data)
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                await self._drop()
                raise SinkError(
                    f"syslog {self.name}: writing to {self.location} failed: {exc!r}"
                ) from None

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        return []

    async def delete(self, location_id: str) -> bool:
        return False


async def _accepted(reader: asyncio.StreamReader, *, settle: float) -> None:
    """Wait ``settle`` seconds (a few handshake times) for a TLS 1.3 server to refuse us
    after the handshake — it checks a client certificate only then — so that the first page is
    not written into a connection that is already being torn down. A receiver that sends
    nothing is a receiver that accepted."""
    try:
        data = await asyncio.wait_for(reader.read(1), settle)
    except TimeoutError:
        return
    raise EOFError("the server closed the connection" if not data else "the server sent data")


def _peer_is_there(writer: asyncio.StreamWriter) -> bool:
    """Whether the receiver still holds the connection open. A syslog receiver never sends, so
    anything readable — end of stream, a reset, a TLS close_notify — means it went away, and a
    page written now would vanish without an error."""
    held = writer.get_extra_info("socket")
    if held is None:
        return False
    try:
        with socket.socket(fileno=os.dup(held.fileno())) as probe:
            probe.setblocking(False)
            probe.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True  # nothing to read: the connection is open and quiet
    except OSError:
        return False
    return False


def _ssl_context(
    transport: str, verify: bool, ca: str | None, cert: str | None, key: str | None
) -> ssl.SSLContext | None:
    if transport == "tls":
        field = "tls_cert_file" if cert else "tls_ca_file"
        return client_tls_context(
            ca_file=ca, cert_file=cert, key_file=key, verify=verify, field=field
        )
    if ca or cert or key:
        raise ConfigError("TLS files need transport: tls", path="transport")
    return None
