"""Serving the simulator: a background-thread server for tests and a blocking runner for the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import uvicorn

from collectorkit._errors import ConfigError
from collectorkit.simulator._app import Simulator, create_app
from collectorkit.simulator._config import PROFILE_KINDS, ProfileConfig, SimulatorConfig
from collectorkit.simulator._faultspec import FaultSpec, parse_faults
from collectorkit.simulator._ledger import Ledger, Stats
from collectorkit.simulator._reset import ResettableH11Protocol

__all__ = ["SimulatorServer", "build_config", "run_simulator"]


class _QuietServer(uvicorn.Server):
    """uvicorn, minus re-raising SIGINT/SIGTERM after a graceful stop: the command exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def _uvicorn_config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=ResettableH11Protocol,
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
    )


class SimulatorServer:
    """The simulator on ``127.0.0.1`` and a free port, in a background thread.

    ::

        with SimulatorServer(SimulatorConfig(seed=7)) as sim:
            sim.url("okta")          # http://127.0.0.1:PORT/okta
            sim.ledger.served("okta")

    ``async with`` works too (start and stop run in a worker thread, the loop is not blocked).
    ``config`` may also be a ready :class:`Simulator`.
    """

    def __init__(
        self,
        config: SimulatorConfig | Simulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.simulator = config if isinstance(config, Simulator) else Simulator(config)
        self.app = create_app(self.simulator)
        self._host = host
        self._port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.base_url = ""

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._socket = sock
        port = sock.getsockname()[1]
        self.base_url = f"http://{self._host}:{port}"
        config = _uvicorn_config(self.app, self._host, port, self._log_level)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name=f"collectorkit-simulator-{port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the simulator did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        if self._server is None or self._socket is None:  # pragma: no cover - start() sets both
            return
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- conveniences -----------------------------------------------------------------------
    def url(self, profile: str) -> str:
        """The base URL of ``profile`` (its routes hang below it)."""
        return self.base_url + self.simulator.api(profile).profile.mount

    @property
    def ledger(self) -> Ledger:
        return self.simulator.ledger

    @property
    def stats(self) -> Stats:
        return self.simulator.stats

    def credentials(self, profile: str) -> dict[str, str]:
        return self.simulator.credentials(profile, self.base_url)

    def add_faults(self, *specs: FaultSpec) -> None:
        self.simulator.add_faults(*specs)

    def set_faults(self, *specs: FaultSpec) -> None:
        self.simulator.set_faults(*specs)

    def clear_faults(self) -> None:
        self.simulator.clear_faults()

    def add_records(self, profile: str, count: int, *, late_by: float = 0.0) -> list[str]:
        """Insert records now (event time ``late_by`` seconds ago); their ids."""
        return self.simulator.add_records(profile, count, late_by=late_by)

    def update_records(self, profile: str, ids: list[str]) -> list[str]:
        """Bump the version and update time of ``ids``; the ids that exist."""
        return self.simulator.update_records(profile, ids)

    def records(self, profile: str) -> list[dict[str, Any]]:
        """Every record of ``profile`` as the vendor renders it, in event-time order."""
        return self.simulator.records(profile)


def build_config(
    *,
    seed: int = 0,
    profiles: Iterable[str | ProfileConfig | Mapping[str, Any]] | None = None,
    faults: Iterable[FaultSpec | Mapping[str, Any]] | str | None = None,
    records: int | Mapping[str, int] | None = None,
) -> SimulatorConfig:
    """A :class:`SimulatorConfig` from simple values (what a command line has).

    ``profiles``: kinds or names (``["okta", "xdr"]``), dicts or :class:`ProfileConfig`;
    default all kinds. ``faults``: dicts, :class:`FaultSpec`, or a string: JSON, or the
    shorthand ``"429,5xx:0.2,reset/10"`` (see :func:`parse_faults`).
    ``records``: one count for every profile or ``{"okta": 1000}``.
    """
    if isinstance(faults, str):
        faults = parse_faults(faults)
    specs: list[FaultSpec] = []
    for i, f in enumerate(faults or ()):
        if isinstance(f, FaultSpec):
            specs.append(f)
        elif isinstance(f, Mapping):
            specs.append(FaultSpec.from_dict(f, path=f"faults[{i}]"))
        else:
            raise ConfigError(f"{f!r} is not a fault object", path=f"faults[{i}]")
    per = records if isinstance(records, Mapping) else {}
    default_count = records if isinstance(records, int) else 250
    made: list[ProfileConfig] = []
    for i, p in enumerate(profiles if profiles is not None else PROFILE_KINDS):
        if isinstance(p, ProfileConfig):
            made.append(p)
            continue
        doc: dict[str, Any] = {"kind": p} if isinstance(p, str) else dict(p)
        name = str(doc.get("name") or doc.get("kind"))
        doc.setdefault("records", per.get(name, default_count))
        made.append(ProfileConfig.from_dict(doc, path=f"profiles[{i}]"))
    return SimulatorConfig(seed=seed, profiles=tuple(made), faults=tuple(specs))


def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    seed: int = 0,
    profiles: Iterable[str | ProfileConfig | Mapping[str, Any]] | None = None,
    faults: Iterable[FaultSpec | Mapping[str, Any]] | str | None = None,
    records: int | Mapping[str, int] | None = None,
    config: SimulatorConfig | None = None,
    log_level: str = "info",
) -> None:
    """Serve the simulator in the foreground until interrupted (``collectorkit simulate``).

    Either pass ``config`` or the simple arguments (see :func:`build_config`).
    """
    cfg = config or build_config(seed=seed, profiles=profiles, faults=faults, records=records)
    sim = Simulator(cfg)
    app = create_app(sim)
    log = logging.getLogger("collectorkit.simulator")
    base = f"http://{host}:{port}"
    log.info(
        "simulator on %s (seed %d); credentials and endpoints: GET %s/_sim", base, cfg.seed, base
    )
    for name in sim.profiles:
        log.info("  %-12s %s%s", name, base, sim.api(name).profile.mount)
    _QuietServer(_uvicorn_config(app, host, port, log_level)).run()
