"""Soak: ``collectorkit run`` against the simulator with faults for N minutes (default 10).

The simulator keeps adding records to two sources (a cursor API and Okta's System Log) while it
injects 429s with Retry-After, 5xx, connection resets, slow and malformed pages and duplicated
page tails. Every 5 s the daemon's resident memory (``VmRSS``) and open file descriptors are
sampled from ``/proc``. At the end the growth is judged on the samples after warm-up (the first
fifth): memory is flat when the last quarter's median is within 10 % of the first post-warm-up
quarter's, descriptors when their spread stays within 4. Then the daemon must catch
up, stop cleanly on SIGTERM, and have stored every record the simulator holds exactly once.

Two daemons race on one configuration: the soak starts two ``collectorkit run`` processes at
the same moment, and every minute another one while the first runs. Exactly one may run: each
other must exit non-zero within 30 s, naming the locked file and the holder's PID (the files
are locked for the writer's lifetime), and the final comparison shows nothing lost or doubled.

    python bench/bench_soak.py [--minutes 10] [--json figures.json]

``run_soak(minutes)`` returns the figures for ``bench/bench_report.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from collectorkit.simulator import SimulatorServer, build_config

SAMPLE_EVERY = 5.0
RACE_EVERY = 60.0  # seconds between second daemons started on the running one's config
# Seed 002's processed-ids window is a bounded cache (default 10,000 ids per source). At this
# soak's rate the default fills only after ~8 minutes, so RSS would climb (boundedly) through
# the whole run and hide a real leak behind a filling cache; a window of 2,000 fills in the
# warm-up. (A tracemalloc diff of a 150 s run found the traced heap growth to be exactly these
# ids: ~4,500 strings and their dict entries, ~0.6 MiB.)
PROCESSED_IDS = 2_000
FAULTS: list[dict[str, Any]] = [
    {"kind": "rate_limit", "probability": 0.03, "retry_after": 1},
    {"kind": "server_error", "probability": 0.03, "status": 502},
    {"kind": "reset", "probability": 0.02},
    {"kind": "slow", "probability": 0.02, "delay": 0.5},
    {"kind": "malformed", "probability": 0.01},
    {"kind": "duplicates", "target": "okta", "probability": 0.03, "count": 5},
]


def _config(db: Path, out: Path, sim: SimulatorServer) -> dict[str, Any]:
    retry = {"max_attempts": 8, "initial_delay": 0.05, "max_delay": 1}
    return {
        "state": f"sqlite:///{db}",
        "sinks": [
            {"type": "sqlite", "path": str(db)},
            {"type": "jsonl", "path": f"{out}/{{source}}.jsonl", "max_bytes": 5_000_000},
        ],
        "dead_letter": {"type": "jsonl", "path": f"{out}/dead.jsonl"},
        "status": {"host": "127.0.0.1", "port": 0},
        "shutdown_grace": "10s",
        "sources": [
            {
                "name": "app_events",
                "processed_ids": {"capacity": PROCESSED_IDS},
                "base_url": sim.url("generic"),
                "auth": {"type": "bearer", "token": "${SOAK_GENERIC_TOKEN}"},
                "interval": "1s",
                "retry": retry,
                "request": {
                    "endpoint": "/v1/events",
                    "params": {"limit": 100},
                    "data_path": "data.events",
                    "pagination": {
                        "mode": "cursor",
                        "cursor_param": "cursor",
                        "next_cursor_path": "meta.next_cursor",
                    },
                    "incremental": {
                        "timestamp_field": "created_at",
                        "start_param": "since",
                        "overlap": "2s",  # the simulator back-dates new records by a few ms
                    },
                },
            },
            {
                "name": "okta_log",
                "processed_ids": {"capacity": PROCESSED_IDS},
                "base_url": sim.url("okta"),
                "auth": {
                    "type": "api_key",
                    "key": "${SOAK_OKTA_TOKEN}",
                    "header_name": "Authorization",
                    "prefix": "SSWS ",
                },
                "interval": "1s",
                "retry": retry,
                "key_fields": ["uuid"],
                "request": {
                    "endpoint": "/api/v1/logs",
                    "params": {"limit": 100},
                    "pagination": {"mode": "link"},
                    "incremental": {
                        "timestamp_field": "published",
                        "start_param": "since",
                        "overlap": "2s",
                    },
                },
            },
        ],
    }


def _proc_sample(pid: int) -> tuple[float, int]:
    """(RSS in MB, open file descriptors) of ``pid``."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def _stored(db: Path) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {"app_events": Counter(), "okta_log": Counter()}
    with sqlite3.connect(db) as conn:
        for source, data in conn.execute("SELECT source, data FROM events"):
            record = json.loads(data)
            out[source][record["uuid"] if source == "okta_log" else record["id"]] += 1
    return out


def _status_url(log: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if b"status server listening" in log.read_bytes():
            return
        if proc.poll() is not None:
            raise RuntimeError("the daemon exited:\n" + log.read_text(errors="replace"))
        time.sleep(0.05)
    raise RuntimeError("the daemon did not start")


def _start(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "collectorkit", "run", str(config), "--status-port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _race(config: Path, env: dict[str, str], work: Path) -> tuple[subprocess.Popen[bytes], bool]:
    """Start two daemons at once: the one left running, and whether the other refused."""
    a = _start(config, env, work / "daemon.log")
    b = _start(config, env, work / "racer-0.log")
    deadline = time.monotonic() + 30
    while a.poll() is None and b.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    loser = a if a.poll() is not None else b
    winner = b if loser is a else a
    if loser.poll() is None:
        for p in (a, b):
            p.kill()
        raise RuntimeError("two daemons on one configuration both kept running")
    if loser is a:  # the survivor's log is the daemon's log from now on
        (work / "daemon.log").rename(work / "racer-0.refused.log")
        (work / "racer-0.log").rename(work / "daemon.log")
    loser_log = work / ("racer-0.refused.log" if loser is a else "racer-0.log")
    return winner, _refused(loser, loser_log, winner.pid)


def _refused(proc: subprocess.Popen[bytes], log: Path, holder: int) -> bool:
    """Whether a second daemon exited non-zero within 30 s, naming the holder's PID."""
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    text = log.read_text(errors="replace")
    return code != 0 and f"locked by process {holder}" in text and "Traceback" not in text


def _judge(samples: list[tuple[float, float, int]]) -> dict[str, Any]:
    after = samples[max(1, len(samples) // 5) :]
    quarter = max(1, len(after) // 4)
    early = statistics.median(s[1] for s in after[:quarter])
    late = statistics.median(s[1] for s in after[-quarter:])
    fds = [s[2] for s in after]
    growth = late - early
    return {
        "samples": len(samples),
        "rss_start_mb": samples[0][1],
        "rss_early_mb": early,
        "rss_late_mb": late,
        "rss_max_mb": max(s[1] for s in samples),
        "rss_growth_pct": 100 * growth / early if early else 0.0,
        "rss_flat": growth <= 0.10 * early,
        "fd_min": min(fds),
        "fd_max": max(fds),
        "fd_flat": max(fds) - min(fds) <= 4,
    }


def run_soak(minutes: float, *, verbose: bool = True) -> dict[str, Any]:
    """Run the soak; figures: RSS/fd samples judged, records stored/lost/duplicated, exit code."""
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    cfg = build_config(seed=99, profiles=["generic", "okta"], records=500, faults=FAULTS)
    with SimulatorServer(cfg) as sim:
        config = work / "collectorkit.yaml"
        config.write_text(yaml.safe_dump(_config(work / "ck.db", work / "out", sim)))
        env = {
            **os.environ,
            "SOAK_GENERIC_TOKEN": sim.credentials("generic")["token"],
            "SOAK_OKTA_TOKEN": sim.credentials("okta")["token"],
        }
        log = work / "daemon.log"
        proc, first_refused = _race(config, env, work)
        samples: list[tuple[float, float, int]] = []
        racers, refused = 1, int(first_refused)  # the race at the start
        try:
            _status_url(log, proc)
            start = time.monotonic()
            next_sample = start
            next_race = start + RACE_EVERY / 2
            while (now := time.monotonic()) - start < minutes * 60:
                if now >= next_race:
                    racer_log = work / f"racer-{racers}.log"
                    racers += 1
                    refused += _refused(_start(config, env, racer_log), racer_log, proc.pid)
                    next_race += RACE_EVERY
                if proc.poll() is not None:
                    raise RuntimeError("the daemon died:\n" + log.read_text(errors="replace"))
                sim.add_records("generic", 20)
                sim.add_records("okta", 10)
                if now >= next_sample:
                    rss, fds = _proc_sample(proc.pid)
                    samples.append((now - start, rss, fds))
                    next_sample += SAMPLE_EVERY
                    if verbose:
                        print(f"  t={now - start:6.0f}s  rss={rss:6.1f} MB  fds={fds}", flush=True)
                time.sleep(1.0)
            sim.clear_faults()  # catch up without faults, then compare
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                stored = _stored(work / "ck.db")
                if set(stored["app_events"]) >= sim.ledger.existing("generic") and set(
                    stored["okta_log"]
                ) >= sim.ledger.existing("okta"):
                    break
                time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        stored = _stored(work / "ck.db")
        result: dict[str, Any] = {
            "minutes": minutes,
            "exit_code": code,
            "second_daemons": racers,
            "second_daemons_refused": refused,
            **_judge(samples),
        }
        for source, profile in (("app_events", "generic"), ("okta_log", "okta")):
            existing = sim.ledger.existing(profile)
            result[f"{source}_existing"] = len(existing)
            lost = existing - set(stored[source])
            result[f"{source}_lost"] = len(lost)
            if lost:  # what the daemon missed, to diagnose: id, served how often, record
                served = sim.ledger.served(profile)
                records = {r.get("uuid", r.get("id")): r for r in sim.simulator.records(profile)}
                result[f"{source}_lost_detail"] = [
                    {"id": i, "served": served.get(i, 0), "record": records.get(i)}
                    for i in sorted(lost)[:10]
                ]
            result[f"{source}_duplicated"] = sum(1 for n in stored[source].values() if n > 1)
        faults = sim.stats.snapshot()["faults"]
        result["faults_injected"] = sum(faults.values())
        result["faults_by_kind"] = dict(faults)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    print(f"soak: the daemon against the simulator with faults for {args.minutes:g} minutes")
    r = run_soak(args.minutes)
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))
    print(
        f"\nRSS after warm-up {r['rss_early_mb']:.1f} MB -> end {r['rss_late_mb']:.1f} MB "
        f"({r['rss_growth_pct']:+.1f} %), max {r['rss_max_mb']:.1f} MB: "
        f"{'flat' if r['rss_flat'] else 'GROWING'}"
    )
    print(f"open fds {r['fd_min']}..{r['fd_max']}: {'flat' if r['fd_flat'] else 'GROWING'}")
    print(f"faults injected: {r['faults_injected']} {r['faults_by_kind']}")
    for source in ("app_events", "okta_log"):
        print(
            f"{source}: {r[f'{source}_existing']} records, lost {r[f'{source}_lost']}, "
            f"duplicated {r[f'{source}_duplicated']}"
        )
    print(
        f"second daemons on the same config: {r['second_daemons']}, "
        f"refused {r['second_daemons_refused']}"
    )
    print(f"daemon exit code: {r['exit_code']}")
    ok = r["rss_flat"] and r["fd_flat"] and r["exit_code"] == 0
    ok = ok and r["second_daemons_refused"] == r["second_daemons"]
    ok = ok and not any(r[f"{s}_lost"] or r[f"{s}_duplicated"] for s in ("app_events", "okta_log"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
