"""collectorkit vs a hand-written aiohttp + orjson loop, each subject a whole process.

400 cursor pages x 500 security alerts (each ~570 bytes of nested JSON: host, user, rule with
MITRE ids, description, process fields and tags) served by nginx from static files (an aiohttp
server in its own process when nginx is missing). Five pairs, each subject a fresh Python
process, rounds interleaved (each pair back to back), the ratio is the median of the rounds'
pairs:

1. *stream, count*: ``CollectorClient.iter_pages`` counting records vs the loop counting;
2. *keep all*: ``collect_events_sync`` vs the loop extending one list (throughput, peak RSS);
3. *SQLite, exactly once*: ``collectorkit once`` with an SQLite sink and state (records + state
   committed per page) vs the loop doing ``executemany`` + a state row + one commit per page;
4. *JSONL, exactly once*: ``collectorkit once`` with a JSONL sink vs the loop appending the
   page's lines to a file and committing the cursor and the file's offset per page (SQLite);
5. *pass-through*: the same ``collectorkit once`` with ``pass_through: true`` (records written
   as the bytes the API sent) vs the same JSONL loop.

The clock runs inside each child, from after its imports to its last commit (interpreter start
and imports are the same for every round and are not the work). Each child also reports its
CPU time and peak RSS. The parent checks every output holds the 200,000 records exactly once.

    python bench/bench_loop.py [--rounds 5] [--only stream,keep,sqlite,jsonl,raw] [--profile NAME]

``--profile ours_jsonl`` runs that one subject under cProfile and prints the top functions.
``measure()`` returns the figures for ``bench/bench_report.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PAGES = int(os.environ.get("BENCH_LOOP_PAGES", "400"))  # other shapes, for profiling
PER_PAGE = int(os.environ.get("BENCH_LOOP_PER_PAGE", "500"))
RECORDS = PAGES * PER_PAGE
ROUNDS = 5
SOURCE = "alerts"
KINDS = ("stream", "keep", "sqlite", "jsonl", "raw")

# --- pages ---------------------------------------------------------------------------------------


def alert(page: int, i: int) -> dict[str, Any]:
    n = page * PER_PAGE + i
    return {
        "id": f"alrt-{page:04d}-{i:04d}-{n * 2654435761 % 4294967296:08x}",
        "created_at": f"2024-05-01T{(page // 60) % 24:02d}:{page % 60:02d}:{i % 60:02d}.{i:03d}Z",
        "severity": ("low", "medium", "high", "critical")[i % 4],
        "host": {
            "name": f"ws-{n % 997:04d}.corp.example",
            "ip": f"10.{n % 7}.{(n // 7) % 256}.{n % 251}",
            "os": ("windows-11", "ubuntu-22.04", "macos-14")[n % 3],
        },
        "user": {"name": f"user{n % 313}", "domain": "CORP"},
        "rule": {
            "id": f"R{1000 + n % 211}",
            "name": "suspicious powershell child process",
            "mitre": ["T1059.001", f"T{1000 + n % 97}"],
        },
        "description": "process spawned an encoded command line from an office document",
        "fields": {
            "process": "powershell.exe",
            "pid": 4000 + n % 50000,
            "parent": "winword.exe",
            "cmdline": f"powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC{n % 9973:04d}",
            "count": n % 17,
            "score": round((n % 1000) / 10, 1),
            "tags": ["endpoint", "execution", f"tenant-{n % 5}"],
        },
    }


def page_body(page: int, pages: int = PAGES, per_page: int = PER_PAGE) -> bytes:
    import orjson

    cursor = f"p{page + 1}" if page + 1 < pages else None
    body = {"data": {"alerts": [alert(page, i) for i in range(per_page)]}, "meta": {"next": cursor}}
    return orjson.dumps(body)


# --- the subjects (run in a child process) -------------------------------------------------------


async def _bare_pages(session: Any, base: str) -> Any:
    import orjson

    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        async with session.get(f"{base}/events", params=params) as response:
            response.raise_for_status()
            body = orjson.loads(await response.read())
        cursor = body["meta"]["next"]
        yield body["data"]["alerts"], cursor
        if not cursor:
            return


async def bare_stream(base: str, work: Path) -> int:
    import aiohttp

    count = 0
    async with aiohttp.ClientSession() as session:
        async for alerts, _ in _bare_pages(session, base):
            count += len(alerts)
    return count


async def bare_keep(base: str, work: Path) -> int:
    import aiohttp

    kept: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        async for alerts, _ in _bare_pages(session, base):
            kept.extend(alerts)
    return len(kept)


def _state_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT)")
    return db


async def bare_sqlite(base: str, work: Path) -> int:
    import aiohttp
    import orjson

    db = _state_db(work / "bare.db")
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
        "source TEXT NOT NULL, data TEXT NOT NULL, stored_at REAL NOT NULL)"
    )
    count = 0
    async with aiohttp.ClientSession() as session:
        async for alerts, cursor in _bare_pages(session, base):
            now = time.time()
            rows = [(f"{SOURCE}:{a['id']}", SOURCE, orjson.dumps(a).decode(), now) for a in alerts]
            db.execute("BEGIN")
            db.executemany("INSERT OR IGNORE INTO events VALUES (NULL, ?, ?, ?, ?)", rows)
            db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (SOURCE, cursor))
            db.execute("COMMIT")
            count += len(alerts)
    db.close()
    return count


async def bare_jsonl(base: str, work: Path) -> int:
    """Append each page's lines, then commit the cursor and the file's new offset together; a
    restart would truncate the file to the committed offset and resume from the cursor."""
    import aiohttp
    import orjson

    db = _state_db(work / "bare-state.db")
    count = offset = 0
    with open(work / "bare.jsonl", "ab", buffering=0) as out:  # noqa: ASYNC230 - a hand-written loop
        async with aiohttp.ClientSession() as session:
            async for alerts, cursor in _bare_pages(session, base):
                dumps = orjson.dumps
                data = b"".join(
                    dumps({"key": f"{SOURCE}:{a['id']}", "source": SOURCE, "data": a}) + b"\n"
                    for a in alerts
                )
                out.write(data)
                offset += len(data)
                value = orjson.dumps({"cursor": cursor, "offset": offset}).decode()
                db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (SOURCE, value))
                count += len(alerts)
    db.close()
    return count


def _blueprint(base: str) -> Any:
    from collectorkit import CollectorBlueprint, CollectorRequest, PaginationConfig

    pagination = PaginationConfig(
        mode="cursor", cursor_param="cursor", next_cursor_path="meta.next"
    )
    request = CollectorRequest(endpoint="/events", data_path="data.alerts", pagination=pagination)
    return CollectorBlueprint(name=SOURCE, base_url=base, request=request)


async def ours_stream(base: str, work: Path) -> int:
    from collectorkit import CollectorClient

    count = 0
    client = CollectorClient(_blueprint(base))
    try:
        async for page in client.iter_pages():
            count += len(page.events)
    finally:
        await client.aclose()
    return count


def ours_keep(base: str, work: Path) -> int:
    from collectorkit import CollectorClient

    client = CollectorClient(_blueprint(base))
    try:
        result = client.collect_events_sync()
    finally:
        client.close()
    return len(result.events)


def once_config(base: str, work: Path, sink: str, pass_through: bool = False) -> Path:
    """The YAML file ``collectorkit once`` runs (state in the sink's own database)."""
    if sink == "sqlite":
        state = f"sqlite:///{work / 'ours.db'}"
        sink_yaml = f"{{type: sqlite, path: {work / 'ours.db'}}}"
    else:
        state = f"sqlite:///{work / 'ours.jsonl.index.db'}"
        sink_yaml = f"{{type: jsonl, path: {work / 'ours.jsonl'}}}"
    path = work / "config.yaml"
    path.write_text(
        f"""state: {state}
status: {{enabled: false}}
sinks:
  - {sink_yaml}
sources:
  - name: {SOURCE}
    base_url: {base}
    pass_through: {str(pass_through).lower()}
    request:
      endpoint: /events
      data_path: data.alerts
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next}}
"""
    )
    return path


def _once(sink: str, pass_through: bool = False) -> Any:
    def run(base: str, work: Path) -> int:
        from collectorkit.cli._app import main

        config = once_config(base, work, sink, pass_through)
        with open(os.devnull, "w") as quiet:
            saved, sys.stdout = sys.stdout, quiet
            try:
                code = main(["once", str(config)])
            except SystemExit as exc:
                code = exc.code
            finally:
                sys.stdout = saved
        if code not in (0, None):
            raise RuntimeError(f"collectorkit once exited with {code}")
        return RECORDS  # the parent counts what was stored

    return run


SUBJECTS: dict[str, Any] = {
    "bare_stream": bare_stream,
    "ours_stream": ours_stream,
    "bare_keep": bare_keep,
    "ours_keep": ours_keep,
    "bare_sqlite": bare_sqlite,
    "ours_sqlite": _once("sqlite"),
    "bare_jsonl": bare_jsonl,
    "ours_jsonl": _once("jsonl"),
    "bare_raw": bare_jsonl,  # pass-through vs the same hand-written JSONL loop
    "ours_raw": _once("jsonl", pass_through=True),
}


def _preload(name: str) -> None:
    """Imports outside the clock: what each subject's program imports at its top."""
    import aiohttp  # noqa: F401
    import orjson  # noqa: F401

    if name.startswith("ours"):  # the library's names load lazily: what the program uses
        from collectorkit import (  # noqa: F401
            CollectorBlueprint,
            CollectorClient,
            CollectorRequest,
            PaginationConfig,
        )
    if name in ("ours_sqlite", "ours_jsonl", "ours_raw"):  # the command's modules (config too)
        import collectorkit.cli._app
        import collectorkit.cli._state
        import collectorkit.daemon._app  # noqa: F401


def child(name: str, base: str, work: Path, out: Path, profile: bool) -> None:
    _preload(name)
    if os.environ.get("BENCH_GC"):
        import gc

        mode = os.environ["BENCH_GC"]  # experiments: freeze, disable, or a gen0 threshold
        if mode == "freeze":
            gc.freeze()
        elif mode == "disable":
            gc.disable()
        else:
            gc.set_threshold(int(mode), *gc.get_threshold()[1:])
    if os.environ.get("BENCH_GC_TIME"):
        _time_gc()
    run = SUBJECTS[name]
    cpu0, start = time.process_time(), time.perf_counter()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
    count = asyncio.run(run(base, work)) if asyncio.iscoroutinefunction(run) else run(base, work)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    if profile:
        prof.disable()
        if os.environ.get("BENCH_PROFILE_OUT"):
            prof.dump_stats(os.environ["BENCH_PROFILE_OUT"])
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(40)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    rss = _peak_rss_mb()
    out.write_text(json.dumps({"count": count, "seconds": elapsed, "cpu": cpu, "rss_mb": rss}))


def _time_gc() -> None:
    """Print the time spent in the cyclic garbage collector per generation when the process ends."""
    import atexit
    import gc

    spent = [0.0, 0.0, 0.0]
    runs = [0, 0, 0]
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            spent[info["generation"]] += time.perf_counter() - started[0]
            runs[info["generation"]] += 1

    gc.callbacks.append(callback)
    atexit.register(lambda: print(f"gc seconds {spent} runs {runs}", file=sys.stderr))


def _peak_rss_mb() -> float:
    """This process's peak RSS: ``VmHWM`` (``ru_maxrss`` carries the parent's across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the parent ----------------------------------------------------------------------------------


def _stored(name: str, work: Path) -> int:
    """Distinct record keys the subject left on disk (or the count it reported)."""
    files = {
        "bare_sqlite": "bare.db",
        "ours_sqlite": "ours.db",
        "bare_jsonl": "bare.jsonl",
        "ours_jsonl": "ours.jsonl",
        "bare_raw": "bare.jsonl",
        "ours_raw": "ours.jsonl",
    }
    if name not in files:
        return -1
    path = work / files[name]
    if path.suffix == ".jsonl":
        import orjson

        keys = [orjson.loads(line)["key"] for line in path.read_bytes().splitlines() if line]
        if len(keys) != len(set(keys)):
            raise RuntimeError(f"{name}: {len(keys) - len(set(keys))} duplicate lines")
        return len(keys)
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(DISTINCT key) FROM events").fetchone()[0])
    finally:
        db.close()


def run_subject(name: str, base: str, *, profile: bool = False) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-loop-{name}-"))
    out = work / "figures.json"
    try:
        argv = [sys.executable, str(Path(__file__)), "--child", name, base, str(work), str(out)]
        if profile:
            argv.append("--profile-child")
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=None, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{name} exited with {done.returncode}")
        figures = json.loads(out.read_text())
        if figures["count"] != RECORDS:
            raise RuntimeError(f"{name} collected {figures['count']}, expected {RECORDS}")
        stored = _stored(name, work)
        if stored not in (-1, RECORDS):
            raise RuntimeError(f"{name} stored {stored} records, expected {RECORDS}")
        return {
            "rate": RECORDS / figures["seconds"],
            "cpu_rate": RECORDS / max(figures["cpu"], 1e-9),
            "rss_mb": figures["rss_mb"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def start_pages() -> Any:
    from bench_e2e import StaticPages

    server = StaticPages(PAGES, PER_PAGE, body=page_body, path_name="events")
    return server, server.start()


def measure(kinds: tuple[str, ...] = KINDS, rounds: int = ROUNDS) -> dict[str, Any]:
    """Per kind: the best round of each side (records/s, CPU records/s, peak RSS), and the
    ratios as the median over rounds of each round's pair (the two sides run back to back).

    The paired median, as ``bench_http`` does: on a shared machine one lucky round of either
    side moved a ratio of best rounds by 0.2-0.3 between runs."""
    server, base = start_pages()
    best: dict[str, dict[str, float]] = {}
    pairs: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    try:
        for kind in kinds:  # warm-up: page cache, bytecode
            run_subject(f"bare_{kind}", base)
            run_subject(f"ours_{kind}", base)
        for _ in range(rounds):
            for kind in kinds:
                got = {side: run_subject(f"{side}_{kind}", base) for side in ("bare", "ours")}
                pairs[kind].append(
                    (
                        got["ours"]["rate"] / got["bare"]["rate"],
                        got["ours"]["cpu_rate"] / got["bare"]["cpu_rate"],
                    )
                )
                for side, figures in got.items():
                    name = f"{side}_{kind}"
                    print(
                        f"  {name:12s} {figures['rate']:10,.0f} rec/s  {figures['rss_mb']:6.0f} MB",
                        flush=True,
                    )
                    was = best.setdefault(name, {"rate": 0.0, "cpu_rate": 0.0, "rss_mb": 0.0})
                    was["rate"] = max(was["rate"], figures["rate"])
                    was["cpu_rate"] = max(was["cpu_rate"], figures["cpu_rate"])
                    was["rss_mb"] = max(was["rss_mb"], figures["rss_mb"])
    finally:
        server.stop()
    figures_out: dict[str, Any] = {"pages": PAGES, "per_page": PER_PAGE, "server": server.kind}
    for kind in kinds:
        ours, bare = best[f"ours_{kind}"], best[f"bare_{kind}"]
        figures_out[kind] = {
            "ours": ours,
            "bare": bare,
            "ratio": statistics.median(r for r, _ in pairs[kind]),
            "cpu_ratio": statistics.median(c for _, c in pairs[kind]),
            "rss_ratio": ours["rss_mb"] / bare["rss_mb"],
            "rounds": [round(r, 3) for r, _ in pairs[kind]],
        }
    return figures_out


def jsonl_index_cost(pages: int = 100, rounds: int = 3) -> dict[str, float]:
    """CPU seconds of ``JSONLSink.store_with_checkpoint`` over ``pages`` x 500 alerts with its
    key index (today's design) and with the key claims skipped (the offset-only design: the
    committed offset and the checkpoint still commit together, the file is still cut back to
    the offset on start). Best of ``rounds``; measured in this process, nothing fetched."""
    import orjson

    from collectorkit import Envelope
    from collectorkit.sinks import JSONLSink
    from collectorkit.typing import Checkpoint

    batches = [orjson.loads(page_body(p, pages))["data"]["alerts"] for p in range(pages)]

    async def run(offset_only: bool) -> float:
        root = Path(tempfile.mkdtemp(prefix="bench-loop-index-"))
        sink = JSONLSink(root / "out.jsonl")
        if offset_only:  # the claim answers "every key new" without touching the index
            sink._claim = lambda db, groups, targets: [g.lines for g in groups]  # type: ignore[method-assign]
        try:
            start = time.process_time()
            for number, alerts in enumerate(batches):
                envelopes = [Envelope(SOURCE, f"{SOURCE}:{a['id']}", a) for a in alerts]
                checkpoint = Checkpoint("collector_state", SOURCE, {"cursor": f"p{number}"})
                await sink.store_with_checkpoint(envelopes, checkpoint)
            return time.process_time() - start
        finally:
            await sink.aclose()
            shutil.rmtree(root, ignore_errors=True)

    best = {"index": float("inf"), "offset_only": float("inf")}
    for _ in range(rounds):
        best["index"] = min(best["index"], asyncio.run(run(False)))
        best["offset_only"] = min(best["offset_only"], asyncio.run(run(True)))
    records = pages * PER_PAGE
    return {
        "records": records,
        "index_rate": records / best["index"],
        "offset_only_rate": records / best["offset_only"],
        "ratio": best["index"] / best["offset_only"],
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        name, base, work, out = sys.argv[2:6]
        child(name, base, Path(work), Path(out), "--profile-child" in sys.argv)
        return 0
    sys.path.insert(0, str(HERE))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--only", default=",".join(KINDS))
    parser.add_argument("--profile", help="run one subject under cProfile (e.g. ours_jsonl)")
    args = parser.parse_args()
    if args.profile:
        server, base = start_pages()
        try:
            run_subject(args.profile, base)  # warm the page cache
            print(run_subject(args.profile, base, profile=True))
        finally:
            server.stop()
        return 0
    f = measure(tuple(args.only.split(",")), args.rounds)
    print(f"\n{RECORDS:,} alerts, {PER_PAGE}/page, served by {f['server']}:")
    for kind in KINDS:
        if kind in f:
            k = f[kind]
            print(
                f"  {kind:7s} collectorkit {k['ours']['rate']:9,.0f}/s"
                f" {k['ours']['rss_mb']:5.0f} MB"
                f"   loop {k['bare']['rate']:9,.0f}/s {k['bare']['rss_mb']:5.0f} MB"
                f"   ratio {k['ratio']:.2f} (CPU {k['cpu_ratio']:.2f}, RSS {k['rss_ratio']:.2f})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
