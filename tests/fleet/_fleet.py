"""Helpers of the fleet tests: a configuration of N simulated sources, worker processes, and
the run log every worker writes (one JSON line per run start and end)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from collectorkit.simulator import SimulatorServer, build_config


def simulator(count: int, *, records: int, faults: list[dict[str, Any]]) -> SimulatorServer:
    profiles = [{"kind": "generic", "name": f"g{i:02d}"} for i in range(count)]
    return SimulatorServer(build_config(seed=5, profiles=profiles, records=records, faults=faults))


def write_config(
    path: Path,
    sim: SimulatorServer,
    url: str,
    *,
    count: int,
    fleet: str,
    interval: str = "2s",
    page: int = 20,
    rate_limit: str = "",
    profile: str | None = None,
) -> Path:
    """``count`` sources g00, g01 …, each on its own simulated API (``profile``: all on that
    one, with its one credential)."""
    sources = []
    for i in range(count):
        name = f"g{i:02d}"
        token = sim.credentials(profile or name)["token"]
        sources.append(
            f"""  - name: {name}
    base_url: {sim.url(profile or name)}
    auth: {{type: bearer, token: "{token}"}}
    interval: {interval}
    jitter: 0
    {rate_limit}
    request:
      endpoint: /v1/events
      params: {{limit: {page}}}
      data_path: data.events
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
      incremental: {{timestamp_field: created_at, start_param: since}}
"""
        )
    path.write_text(
        f"""state: {url}
sinks:
  - {{type: postgres, url: "{url}"}}
shutdown_grace: 5s
status: {{host: 127.0.0.1, port: 0}}
fleet: {fleet}
defaults:
  retry: {{max_attempts: 8, initial_delay: 0.05, max_delay: 0.5}}
sources:
"""
        + "".join(sources)
    )
    return path


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def events(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.lines() if e.get("event") == event]


def start_worker(config: Path, name: str, tmp: Path) -> Worker:
    log = tmp / f"{name}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "collectorkit", "worker", str(config)),
                *("--name", name, "--status-port", "0"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ},
        )
    return Worker(name, proc, log)


@dataclass
class Fleet:
    workers: list[Worker] = field(default_factory=list)

    def stop(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.send_signal(signal.SIGCONT)
                    w.proc.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()

    def logs(self) -> str:
        return "\n".join(
            f"--- {w.name}\n{w.log.read_text(errors='replace')[-4000:]}" for w in self.workers
        )


@contextlib.contextmanager
def fleet(config: Path, tmp: Path, count: int) -> Iterator[Fleet]:
    running = Fleet([start_worker(config, f"w{i}", tmp) for i in range(count)])
    try:
        yield running
    finally:
        running.stop()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float, fleet: Fleet) -> float:
    """Seconds it took until ``predicate`` held (AssertionError with the logs after timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        for w in fleet.workers:
            if w.proc.poll() not in (None, -signal.SIGKILL):
                raise AssertionError(f"{w.name} exited {w.proc.returncode}:\n{fleet.logs()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{fleet.logs()}")


def stored_ids(url: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('collectorkit_events')").fetchone()
        if exists is None or exists[0] is None:
            return out
        for source, rid in conn.execute("SELECT source, data->>'id' FROM collectorkit_events"):
            out.setdefault(source, []).append(rid)
    return out


def caught_up(sim: SimulatorServer, url: str, count: int) -> bool:
    stored = stored_ids(url)
    return all(
        {r["id"] for r in sim.records(f"g{i:02d}")} <= set(stored.get(f"g{i:02d}", []))
        for i in range(count)
    )


def _at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp()


def runs(
    workers: list[Worker], killed: dict[str, float]
) -> dict[str, list[tuple[float, float, str, int]]]:
    """Per source: (start, end, worker, epoch) of every run; a killed worker's open runs end at
    its kill time."""
    out: dict[str, list[tuple[float, float, str, int]]] = {}
    for w in workers:
        open_runs: dict[tuple[str, int], float] = {}
        for e in w.lines():
            if e.get("event") == "fleet run started":
                open_runs[(e["source"], e["epoch"])] = _at(e)
            elif e.get("event") == "fleet run ended":
                start = open_runs.pop((e["source"], e["epoch"]), None)
                if start is not None:
                    out.setdefault(e["source"], []).append((start, _at(e), w.name, e["epoch"]))
        for (source, epoch), start in open_runs.items():
            end = killed.get(w.name, time.time())
            out.setdefault(source, []).append((start, end, w.name, epoch))
    return out


def overlaps(per_source: dict[str, list[tuple[float, float, str, int]]]) -> list[str]:
    found = []
    for source, spans in per_source.items():
        spans = sorted(spans)
        for a, b in itertools.pairwise(spans):
            if b[0] < a[1]:
                found.append(f"{source}: {a} and {b}")
    return found
