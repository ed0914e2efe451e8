"""Throwaway PostgreSQL and Redis servers for tests and benchmarks.

``tests/conftest.py`` wraps these in session fixtures; ``bench/`` scripts import them directly.
Each server runs from the machine's binaries in a fresh temporary directory, listens on
127.0.0.1 on a free port, and is stopped by its own PID. PostgreSQL refuses to run as root, so
when we are root it runs as the ``postgres`` system user (or ``nobody``).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PASSWORD_ROLE",
    "MissingServerError",
    "RunningServer",
    "find_postgres_bin",
    "find_redis_server",
    "free_port",
    "start_moto",
    "start_opensearch",
    "start_or_skip",
    "start_postgres",
    "start_redis",
]


PASSWORD_ROLE = "collectorkit_password_user"
"""The one PostgreSQL role whose password is checked (scram-sha-256); the others are trusted."""


class MissingServerError(RuntimeError):
    """The server binaries are not installed on this machine."""


@dataclass
class RunningServer:
    """A server process we started; ``stop()`` ends it by PID and removes its directory."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    directory: Path
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast shutdown"; redis-server exits on it too (no save).
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``initdb`` and ``postgres``, or PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for directory in reversed(candidates):
        if (Path(directory) / "initdb").exists() and (Path(directory) / "postgres").exists():
            return Path(directory)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("postgres"):
        return Path(initdb).resolve().parent
    return None


def find_redis_server() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as: ``None`` (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise MissingServerError("running as root and no 'postgres' or 'nobody' user to run as")


class _PortTakenError(RuntimeError):
    """Another process listens on the port we picked; pick another one."""


def _wait_for_redis(server: RunningServer, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as s:
            s.sendall(b"INFO server\r\n")
            reply = s.recv(65536).decode(errors="replace")
            if f"process_id:{server.process.pid}\r\n" not in reply:
                server.stop()
                raise _PortTakenError(server.url)
            return
        time.sleep(0.05)
    output = server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""
    server.stop()
    if "Address already in use" in output:
        raise _PortTakenError(server.url)
    raise RuntimeError(f"{server.name} did not start on port {port}:\n{output}")


def _wait_for_postgres(server: RunningServer, data: Path, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.url, connect_timeout=2) as conn:
                row = conn.execute("SHOW data_directory").fetchone()
                if row is None or Path(row[0]).resolve() != data.resolve():
                    # someone else's server took the port between free_port() and our bind
                    server.stop()
                    raise _PortTakenError(server.url)
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                output = server.log.read_text(errors="replace")[-2000:]
                server.stop()
                if "Address already in use" in output:
                    raise _PortTakenError(server.url) from None
                raise RuntimeError(f"postgres did not start:\n{output}") from None
            time.sleep(0.05)


def _start_postgres_once(timeout: float) -> RunningServer:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise MissingServerError("PostgreSQL binaries (initdb, postgres) not found")
    user = _unprivileged_user()
    directory = Path(tempfile.mkdtemp(prefix="collectorkit-pg-"))
    data = directory / "data"
    log = directory / "postgres.log"
    ids: dict[str, int] = {}
    if user is not None:
        os.chown(directory, user.pw_uid, user.pw_gid)
        ids = {"user": user.pw_uid, "group": user.pw_gid}
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    subprocess.run(
        [
            *(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"),
            *("-E", "UTF8", "--no-sync", "--no-instructions"),
        ],
        check=True,
        capture_output=True,
        env=env,
        cwd=directory,
        **ids,  # type: ignore[arg-type]
    )
    hba = data / "pg_hba.conf"  # one role checks its password (tests of a refused login)
    hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)),
                *("-h", "127.0.0.1", "-k", str(directory), "-c", "fsync=off"),
                *("-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
                *("-c", "max_connections=200"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
            start_new_session=True,
            **ids,  # type: ignore[arg-type]
        )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    server = RunningServer("postgres", url, process, directory, log)
    _wait_for_postgres(server, data, timeout)
    return server


def _start_redis_once(timeout: float) -> RunningServer:
    binary = find_redis_server()
    if binary is None:
        raise MissingServerError("redis-server not found")
    directory = Path(tempfile.mkdtemp(prefix="collectorkit-redis-"))
    log = directory / "redis.log"
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(directory), "--daemonize", "no"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
        )
    server = RunningServer("redis", f"redis://127.0.0.1:{port}/0", process, directory, log)
    _wait_for_redis(server, port, timeout)
    return server


def start_postgres(*, timeout: float = 30.0) -> RunningServer:
    """initdb + postgres in a fresh directory; returns the ``postgresql://`` URL of db ``postgres``.

    Durability is off (``fsync``, ``synchronous_commit``): these are throwaway test servers.
    """
    return _retry_ports(lambda: _start_postgres_once(timeout))


def start_redis(*, timeout: float = 15.0) -> RunningServer:
    """redis-server on a free port with persistence off; returns its ``redis://`` URL (db 0)."""
    return _retry_ports(lambda: _start_redis_once(timeout))


def _start_moto_once(timeout: float) -> RunningServer:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise MissingServerError("moto[server] not installed (pip install -e '.[dev]')") from None
    import urllib.request

    directory = Path(tempfile.mkdtemp(prefix="collectorkit-moto-"))
    log = directory / "moto.log"
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
        )
    server = RunningServer("moto", f"http://127.0.0.1:{port}", process, directory, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        reset = f"{server.url}/moto-api/reset"  # a moto-only endpoint: this is our server
        with contextlib.suppress(OSError), urllib.request.urlopen(reset, data=b"", timeout=1):  # noqa: S310
            return server
        time.sleep(0.05)
    output = log.read_text(errors="replace")[-2000:]
    server.stop()
    if "Address already in use" in output:
        raise _PortTakenError(server.url)
    raise RuntimeError(f"moto did not start on port {port}:\n{output}")


def start_moto(*, timeout: float = 30.0) -> RunningServer:
    """moto's S3-compatible server (``moto[server]`` from PyPI) on a free port; its URL is the
    ``endpoint_url``. Any access key and secret are accepted; state lives in the process."""
    return _retry_ports(lambda: _start_moto_once(timeout))


def start_opensearch(*, timeout: float = 30.0) -> RunningServer:
    """``osmem-server`` (an in-memory OpenSearch-compatible server shipped as a binary in its
    PyPI wheel, pinned in the ``dev`` extra) on a port it picks itself on 127.0.0.1; it also
    exits when this process dies."""
    try:
        from osmem_server import OsmemError, resolve_binary
    except ImportError:
        raise MissingServerError("osmem-server not installed (pip install -e '.[dev]')") from None
    try:
        binary = resolve_binary()
    except OsmemError as exc:
        raise MissingServerError(str(exc)) from None
    directory = Path(tempfile.mkdtemp(prefix="collectorkit-osmem-"))
    log = directory / "osmem.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(binary, "--addr", "127.0.0.1:0", "--no-ja", "--no-stdin-watch"),
                *("--parent-pid", str(os.getpid())),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
        )
    server = RunningServer("opensearch", "", process, directory, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_bytes().splitlines():  # its first line: {"url": ..., "pid": ...}
            with contextlib.suppress(ValueError):
                server.url = str(json.loads(line)["url"])
                return server
        time.sleep(0.05)
    output = log.read_text(errors="replace")[-2000:]
    server.stop()
    raise RuntimeError(f"osmem-server did not start:\n{output}")


def _retry_ports(start: Callable[[], RunningServer]) -> RunningServer:
    for _ in range(4):
        try:
            return start()
        except _PortTakenError:
            continue
    return start()


def start_or_skip(start: Callable[[], RunningServer]) -> RunningServer:
    """``start()``, or skip the test when the binaries are missing.

    With ``COLLECTORKIT_REQUIRE_SERVICES=1`` (CI) a missing server fails instead of skipping.
    """
    import pytest

    try:
        return start()
    except MissingServerError as exc:
        if os.environ.get("COLLECTORKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{exc} (COLLECTORKIT_REQUIRE_SERVICES=1; run scripts/install-system-deps)")
        pytest.skip(f"{exc}; run scripts/install-system-deps")
