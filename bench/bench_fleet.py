"""The fleet: 1, 2 and 4 ``collectorkit worker`` processes on 64 latency-bound simulated sources.

Each source serves 200 records in pages of 20, every request held 100 ms by the simulator: the
work is waiting, as with real APIs, so workers should scale it linearly. Measured from the
first run started to the last record stored (worker start-up excluded); the scaling ratio is
``T(1) / (N * T(N))`` (1.00 = ideal). Then failover: two workers with the default heartbeat
(10 s), stall threshold (30 s) and dispatcher period (5 s); one is SIGKILLed mid-run and the
time until its sources run on the other is measured. With ``--write`` the table goes into
bench/RESULTS.md (its "Fleet" section).

    python bench/bench_fleet.py [--write]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from tests._servers import start_postgres  # noqa: E402
from tests.fleet._fleet import (  # noqa: E402
    _at,
    caught_up,
    fleet,
    simulator,
    wait_for,
    write_config,
)

SOURCES = 64
RECORDS = 200
PAGE = 20
DELAY = 0.1
CONCURRENCY = 8
FAST = f"{{concurrency: {CONCURRENCY}, heartbeat: 1s, stalled_after: 4s, dispatch_every: 1}}"
DEFAULTS = f"{{concurrency: {CONCURRENCY}}}"


def _database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _figures(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        runs = conn.execute("SELECT coalesce(sum(epoch), 0) FROM collectorkit_fences").fetchone()
        commits = conn.execute(
            "SELECT count(*) FROM collectorkit_state WHERE namespace = 'collector_state'"
        ).fetchone()
        versions = conn.execute(
            "SELECT coalesce(sum(version), 0) FROM collectorkit_state "
            "WHERE namespace = 'collector_state'"
        ).fetchone()
    assert runs is not None
    assert commits is not None
    assert versions is not None
    return {"runs": int(runs[0]), "sources": int(commits[0]), "commits": int(versions[0])}


def scale(server_url: str, workers: int, tmp: Path) -> dict[str, Any]:
    url = _database(server_url, f"bench_fleet_{workers}")
    faults = [{"kind": "slow", "target": "*", "delay": DELAY}]
    with simulator(SOURCES, records=RECORDS, faults=faults) as sim:
        config = write_config(
            tmp / f"fleet{workers}.yaml",
            sim,
            url,
            count=SOURCES,
            fleet=FAST,
            interval="1h",
            page=PAGE,
        )
        logs = tmp / f"workers{workers}"
        logs.mkdir(parents=True, exist_ok=True)
        with fleet(config, logs, workers) as running:
            wait_for(lambda: caught_up(sim, url, SOURCES), "every record", 600, running)
            done = time.time()
            starts = [_at(e) for w in running.workers for e in w.events("fleet run started")]
    first = min(starts)
    seconds = done - first
    figures = _figures(url)
    return {
        "workers": workers,
        "seconds": seconds,
        "records_per_s": SOURCES * RECORDS / seconds,
        "commits_per_s": figures["commits"] / seconds,
        "jobs_per_s": figures["runs"] / seconds,
    }


def failover(server_url: str, tmp: Path) -> dict[str, Any]:
    url = _database(server_url, "bench_fleet_failover")
    faults = [{"kind": "slow", "target": "*", "delay": 0.3}]
    work = tmp / "failover"
    work.mkdir(parents=True, exist_ok=True)
    with simulator(16, records=RECORDS, faults=faults) as sim:
        config = write_config(
            work / "fleet.yaml", sim, url, count=16, fleet=DEFAULTS, interval="1h", page=PAGE
        )
        with fleet(config, work, 2) as running:
            victim, other = running.workers

            def held() -> list[str]:
                with psycopg.connect(url, autocommit=True) as conn:
                    if conn.execute("SELECT to_regclass('collectorkit_fences')").fetchone() == (
                        None,
                    ):
                        return []
                    rows = conn.execute(
                        "SELECT key FROM collectorkit_fences WHERE holder = %s", (victim.name,)
                    ).fetchall()
                return [r[0] for r in rows]

            wait_for(lambda: len(held()) >= 2, "the victim mid-run", 120, running)
            os.kill(victim.proc.pid, signal.SIGKILL)
            killed = time.time()
            victim.proc.wait()
            # read after the kill: a run the victim finished between a read and the kill is not
            # lost (its source is not due again for an hour), only what a dead worker still holds
            lost = held()

            def moved() -> bool:
                return {
                    e["source"]
                    for e in other.events("fleet run started")
                    if e["source"] in lost and _at(e) >= killed
                } >= set(lost)

            seconds = wait_for(moved, "the victim's sources to move", 120, running)
            wait_for(lambda: caught_up(sim, url, 16), "every record", 300, running)
    return {"seconds": seconds, "sources": len(lost)}


def table(rows: list[dict[str, Any]], moved: dict[str, Any]) -> str:
    base = rows[0]["seconds"]
    lines = [
        "| workers (8 jobs each) | wall | records/s | scaling vs ideal | checkpoint commits/s "
        "| jobs/s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = base / (r["workers"] * r["seconds"])
        lines.append(
            f"| {r['workers']} | {r['seconds']:.1f} s | {r['records_per_s']:,.0f} | "
            f"{ratio:.2f} | {r['commits_per_s']:,.0f} | {r['jobs_per_s']:.1f} |"
        )
    lines.append("")
    lines.append(
        f"Failover with the default heartbeat 10 s, stalled_after 30 s, dispatch_every 5 s: "
        f"a SIGKILLed worker's {moved['sources']} source(s) ran on the other worker "
        f"{moved['seconds']:.1f} s after the kill (goal: <= 60 s)."
    )
    return "\n".join(lines)


def write_results(text: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    section = (
        "## Fleet (`bench/bench_fleet.py`)\n\n"
        f"64 simulated sources, 200 records each in pages of 20, every request held {DELAY:g} s "
        "(latency-bound); one PostgreSQL; measured "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end (workers, simulator and PostgreSQL "
        "share the machine)."
        "\n\n" + text + "\n"
    )
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(r"## Fleet \(`bench/bench_fleet.py`\)\n.*?(?=\n## |\Z)", re.S)
    new = (
        pattern.sub(section.rstrip("\n"), old)
        if pattern.search(old)
        else old.rstrip("\n") + "\n\n" + section
    )
    path.write_text(new, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    server = start_postgres()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [scale(server.url, n, Path(tmp)) for n in (1, 2, 4)]
            moved = failover(server.url, Path(tmp))
    except AssertionError as exc:  # a worker failed or a wait timed out: its logs say why
        print(f"bench_fleet: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    text = table(rows, moved)
    print(text)
    if args.write:
        write_results(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
