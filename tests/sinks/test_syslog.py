"""The syslog sink against a real rsyslogd (started by the suite): RFC 5424 over TCP with octet
counting and over TLS, the fields as rsyslog parses them, well-formed CEF, and reconnection
after the receiver restarted (a page written into the dead connection would be lost)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from collectorkit import ConfigError, Envelope, SinkError, record_key
from collectorkit.sinks import SyslogSink, build_sink
from tests._stream_servers import RunningRsyslog, start_rsyslog

pytestmark = pytest.mark.integration

TRICKY = 'line one\nline two ] "quoted" \\ back | pipe = equals – ünïcode'


def _batch(n: int, source: str = "xdr") -> list[Envelope]:
    return [
        Envelope(
            source,
            record_key(source, {"id": i}, ["id"]),
            {"id": i, "ts": f"2026-01-02T03:04:{i % 60:02d}.5Z", "note": TRICKY, "sev": "high"},
        )
        for i in range(n)
    ]


def _port(server: RunningRsyslog) -> int:
    return server.port


async def test_rfc5424_fields_arrive_as_rsyslog_parses_them(rsyslog: RunningRsyslog) -> None:
    sink = SyslogSink(
        "127.0.0.1",
        _port(rsyslog),
        facility="local4",
        severity="warning",
        app_name="ck-test",
        hostname="collector-1",
        procid="77",
        time_field="ts",
    )
    batch = _batch(40)
    async with sink:
        result = await sink.store(batch)
    got = rsyslog.wait_for(40)
    assert result.written == 40
    assert len(got) == 40
    first = got[0]
    assert first["pri"] == str(20 * 8 + 4)
    assert first["version"] == "1"
    assert (first["hostname"], first["app_name"], first["procid"], first["msgid"]) == (
        "collector-1",
        "ck-test",
        "77",
        "xdr",
    )
    assert datetime.fromisoformat(first["timestamp"]) == datetime(
        2026, 1, 2, 3, 4, 0, 500000, tzinfo=UTC
    )
    for envelope, message in zip(batch, got, strict=True):
        assert json.loads(message["msg"]) == envelope.data  # newlines and ']' survive framing
        assert f'key="{envelope.key}"' in message["structured_data"]
        assert message["structured_data"].startswith("[collectorkit@32473 ")


_CEF_HEADER = re.compile(r"^CEF:0((?:\|(?:[^|\\]|\\.)*){6})\|(.*)$", re.S)


def _parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """A strict CEF reader: 7 header fields (``\\|`` and ``\\\\`` escaped) + extensions."""
    m = _CEF_HEADER.match(line)
    assert m, f"not CEF: {line!r}"
    header = [re.sub(r"\\(.)", r"\1", f) for f in re.findall(r"\|((?:[^|\\]|\\.)*)", m[1])]
    pairs = re.findall(r"([A-Za-z0-9_]+)=((?:[^=\\]|\\.)*?)(?= [A-Za-z0-9_]+=|$)", m[2])
    unescape = {"n": "\n", "r": "\r", "=": "=", "\\": "\\"}
    ext = {k: re.sub(r"\\(.)", lambda x: unescape[x[1]], v) for k, v in pairs}
    return header, ext


async def test_cef_is_well_formed_with_the_mapped_fields(rsyslog: RunningRsyslog) -> None:
    sink = build_sink(
        {
            "type": "syslog",
            "host": "127.0.0.1",
            "port": _port(rsyslog),
            "format": "cef",
            "cef_vendor": "Acme|Corp",
            "cef_product": "XDR",
            "cef_version": "2.0",
            "cef_fields": {"signature_id": "id", "name": "note", "severity": "sev", "msg": "note"},
        }
    )
    batch = _batch(5)
    async with sink:
        await sink.store(batch)
    got = rsyslog.wait_for(5)
    assert len(got) == 5
    for envelope, message in zip(batch, got, strict=True):
        header, ext = _parse_cef(message["msg"])
        assert header == [
            "Acme|Corp",
            "XDR",
            "2.0",
            str(envelope.data["id"]),
            TRICKY.replace("\n", " "),  # a header is one line
            "8",  # "high"
        ]
        assert ext == {"externalId": envelope.key, "msg": TRICKY}


async def test_tls_with_the_servers_ca(rsyslog_tls: RunningRsyslog) -> None:
    sink = SyslogSink(
        "127.0.0.1",
        rsyslog_tls.port,
        transport="tls",
        tls_ca_file=str(rsyslog_tls.ca_file),
    )
    async with sink:
        await sink.store(_batch(10))
        await sink.store(_batch(10, source="okta"))
    got = rsyslog_tls.wait_for(20)
    assert [m["msgid"] for m in got] == ["xdr"] * 10 + ["okta"] * 10
    assert json.loads(got[-1]["msg"])["id"] == 9


async def test_tls_with_a_client_certificate(rsyslog_mtls: RunningRsyslog) -> None:
    directory = rsyslog_mtls.directory
    sink = build_sink(
        {
            "type": "syslog",
            "port": rsyslog_mtls.port,
            "transport": "tls",
            "tls_ca_file": str(rsyslog_mtls.ca_file),
            "tls_cert_file": str(directory / "client.pem"),
            "tls_key_file": str(directory / "client.key"),
        }
    )
    async with sink:
        await sink.store(_batch(5))
    assert [json.loads(m["msg"])["id"] for m in rsyslog_mtls.wait_for(5)] == [0, 1, 2, 3, 4]


async def test_a_server_refusing_our_certificate_fails_the_first_page(
    rsyslog_mtls: RunningRsyslog,
) -> None:
    # TLS 1.3 checks the client certificate after the handshake: a page written at once would
    # be counted as stored while the server tears the connection down
    sink = SyslogSink(
        "127.0.0.1", rsyslog_mtls.port, transport="tls", tls_ca_file=str(rsyslog_mtls.ca_file)
    )
    with pytest.raises(SinkError, match="certificate required"):
        async with sink:
            await sink.store(_batch(1))
    assert rsyslog_mtls.wait_for(1, timeout=0.3) == []


async def test_tls_refuses_a_server_it_cannot_verify(rsyslog_tls: RunningRsyslog) -> None:
    sink = SyslogSink("127.0.0.1", rsyslog_tls.port, transport="tls")  # system roots only
    with pytest.raises(SinkError, match=rf"cannot connect to tls://127.0.0.1:{rsyslog_tls.port}"):
        async with sink:
            await sink.store(_batch(1))
    assert rsyslog_tls.wait_for(1, timeout=0.3) == []


async def test_a_restarted_receiver_gets_the_next_page() -> None:
    first = start_rsyslog()
    port = first.port
    sink = SyslogSink("127.0.0.1", port)
    try:
        async with sink:
            await sink.store(_batch(3))
            assert len(first.wait_for(3)) == 3
            first.stop()  # the sink's connection is now closed by the peer
            second = start_rsyslog(port=port)
            try:
                await sink.store(_batch(4, source="okta"))
                got = second.wait_for(4)
            finally:
                second.stop()
    finally:
        first.stop()
    assert [m["msgid"] for m in got] == ["okta"] * 4


async def test_concurrent_pages_after_a_restart_share_one_new_connection() -> None:
    first = start_rsyslog()
    sink = SyslogSink("127.0.0.1", first.port)
    try:
        async with sink:
            await sink.store(_batch(1))
            first.wait_for(1)
            first.stop()
            second = start_rsyslog(port=first.port)
            try:
                pages = [_batch(5, source=f"s{i}") for i in range(4)]
                await asyncio.gather(*(sink.store(page) for page in pages))
                got = second.wait_for(20)
                writers = 1 if sink._writer is not None else 0
            finally:
                second.stop()
    finally:
        first.stop()
    assert sorted(m["msgid"] for m in got) == sorted(f"s{i}" for i in range(4) for _ in range(5))
    assert writers == 1


async def test_no_receiver_is_a_sink_error_naming_where() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        sink = SyslogSink("127.0.0.1", port, timeout=2)
        with pytest.raises(SinkError, match=rf"cannot connect to tcp://127.0.0.1:{port}"):
            async with sink:
                await sink.store(_batch(1))


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"facility": "local9"}, "facility"),
        ({"severity": 8}, "severity"),
        ({"transport": "udp"}, "transport"),
        ({"cef_fields": {"src": "ip"}}, "cef_fields"),
        ({"format": "cef", "cef_fields": {"bad key": "ip"}}, "cef_fields.bad key"),
        ({"app_name": "has space"}, "app_name"),
        ({"tls_ca_file": "/nonexistent/ca.pem"}, "transport"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_sink({"type": "syslog", **options})
    assert info.value.path == f"sinks[0].{path}"
