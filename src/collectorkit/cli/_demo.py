"""``collectorkit demo`` (``make demo``): what a newcomer sees first.

Starts the simulator on localhost with three vendor-shaped APIs (Cortex XDR alerts: POST with
body offsets; Okta system log: Link headers; a generic cursor API) and a few faults switched on
(429 with Retry-After, a 5xx burst, a connection reset, a slow response); writes a realistic
configuration; collects everything once into the embedded SQLite default with live progress;
then checks the result against the simulator's ledger (every served record stored exactly
once) and shows how to query it. Takes a few seconds.

It ends with the commands that run ``collectorkit`` itself from its virtualenv: the simulator
on the port the demo used, then ``once`` / ``run`` on the ``demo.yaml`` it leaves behind, whose
credentials default to the simulator's fixed fakes (``${DEMO_XDR_KEY:-sim-xdr-token}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from collectorkit.cli._once import OnceResult

__all__ = ["DEMO_CONFIG", "collectorkit_command", "demo_faults", "run_demo", "run_demo_sync"]

DEMO_CONFIG = """\
# collectorkit demo configuration: three sources, one SQLite file for records and state.
state: sqlite:///{db}
sinks:
  - {{type: sqlite, path: {db}}}
status: {{enabled: false}}
defaults:
  retry: {{max_attempts: 6, initial_delay: 0.2, max_delay: 5}}
  rate_limit: {{rate_per_second: 200, burst: 50}}
sources:
  - name: xdr_alerts                      # Cortex XDR: POST, search_from/search_to in the body
    base_url: {xdr}
    auth: {{type: api_key, key: "${{DEMO_XDR_KEY:-{xdr_key}}}", header_name: Authorization,
           key_id: "1", key_id_header: x-xdr-auth-id}}
    interval: 5m
    key_fields: [alert_id]
    request:
      endpoint: /public_api/v1/alerts/get_alerts_multi_events
      method: POST
      json: {{request_data: {{sort: {{field: creation_time, keyword: asc}}}}}}
      data_path: reply.alerts
      pagination: {{mode: offset, offset_param: request_data.search_from,
                   offset_end_param: request_data.search_to, page_size: 100,
                   param_location: body, total_path: reply.total_count}}
  - name: okta_system_log                 # Okta: Link header paging, SSWS API token
    base_url: {okta}
    auth: {{type: api_key, key: "${{DEMO_OKTA_TOKEN:-{okta_token}}}", header_name: Authorization,
           prefix: "SSWS "}}
    interval: 1m
    key_fields: [uuid]
    request:
      endpoint: /api/v1/logs
      params: {{limit: 200, sortOrder: ASCENDING}}
      pagination: {{mode: link}}
      incremental: {{timestamp_field: published, start_param: since}}
  - name: app_events                      # a generic cursor API, incremental on created_at
    base_url: {generic}
    auth: {{type: bearer, token: "${{DEMO_GENERIC_TOKEN:-{generic_token}}}"}}
    interval: 30s
    request:
      endpoint: /v1/events
      params: {{limit: 250}}
      data_path: data.events
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
      incremental: {{timestamp_field: created_at, start_param: since}}
"""

_PROFILES = {"xdr_alerts": "xdr", "okta_system_log": "okta", "app_events": "generic"}
_IDS = {"xdr_alerts": "alert_id", "okta_system_log": "uuid", "app_events": "id"}


def demo_faults() -> list[dict[str, Any]]:
    """The faults the demo switches on (the simulator's ``FaultSpec`` form)."""
    return [
        {"kind": "rate_limit", "target": "xdr", "requests": "3,9", "retry_after": 1},
        {"kind": "server_error", "target": "xdr", "requests": "5", "burst": 2, "status": 503},
        {"kind": "reset", "target": "generic", "requests": "5"},
        {"kind": "slow", "target": "generic", "requests": "8", "delay": 0.5},
        {"kind": "rate_limit", "target": "generic", "requests": "11", "retry_after": 1},
    ]


def _stored_ids(db: Path) -> dict[str, list[str]]:
    import orjson

    out: dict[str, list[str]] = {name: [] for name in _PROFILES}
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for source, data in conn.execute("SELECT source, data FROM events"):
            record = orjson.loads(data)
            out.setdefault(source, []).append(str(record.get(_IDS.get(source, "id"))))
    return out


async def run_demo(
    *, records: int = 3000, directory: Path | None = None, console: Console
) -> tuple[list[OnceResult], bool, Callable[[], None]]:
    """Run the demo; returns the per-source results, whether the ledger check passed, and what
    prints how to run collectorkit on what the demo left behind (the last words)."""
    from collectorkit.cli._once import run_once
    from collectorkit.config._load import load_config
    from collectorkit.simulator import SimulatorServer, build_config

    workdir = directory or Path(tempfile.mkdtemp(prefix="collectorkit-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = (workdir / "demo.db").resolve()
    for stale in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)  # the ledger check compares against this run alone
    sim_config = build_config(
        seed=42, profiles=list(_PROFILES.values()), records=records, faults=demo_faults()
    )
    async with SimulatorServer(sim_config) as sim:
        console.print(
            f"[bold]simulator[/] on {sim.base_url} — {records} records per API, faults on:"
        )
        for fault in demo_faults():
            console.print(
                f"  • {fault['kind']} on {fault['target']} (requests {fault['requests']})"
            )
        cfg_path = workdir / "demo.yaml"
        cfg_path.write_text(
            DEMO_CONFIG.format(
                db=db,
                xdr=sim.url("xdr"),
                okta=sim.url("okta"),
                generic=sim.url("generic"),
                xdr_key=sim.credentials("xdr")["api_key"],
                okta_token=sim.credentials("okta")["token"],
                generic_token=sim.credentials("generic")["token"],
            ),
            encoding="utf-8",
        )
        config = load_config(cfg_path, env={})  # the simulator's fakes are the defaults
        port = int(sim.base_url.rsplit(":", 1)[1].split("/")[0])
        console.print(f"[bold]config[/] {cfg_path}\n")
        results = await run_once(config, console=console)
        served = {name: sim.ledger.served_ids(p) for name, p in _PROFILES.items()}
        stats = sim.stats.snapshot()
    stored = _stored_ids(db)
    ok = _check(served, stored, console)
    _explain(stats, console)
    _how_to_query(db, console)
    return results, ok, (lambda: _how_to_run(cfg_path, port=port, records=records, console=console))


def _check(
    served: Mapping[str, set[str]], stored: Mapping[str, list[str]], console: Console
) -> bool:
    ok = True
    for name, ids in served.items():
        kept = stored.get(name, [])
        dupes = len(kept) - len(set(kept))
        lost = len(ids - set(kept))
        good = dupes == 0 and lost == 0
        ok = ok and good
        mark = "[green]✓[/]" if good else "[red]✗[/]"
        console.print(
            f"{mark} {name}: served {len(ids)}, stored {len(set(kept))}, "
            f"lost {lost}, duplicated {dupes}"
        )
    return ok


def _explain(stats: Mapping[str, Any], console: Console) -> None:
    faults = stats.get("faults", {})
    if faults:
        shown = ", ".join(f"{k} × {v}" for k, v in sorted(faults.items()))
        console.print(f"faults the simulator injected: {shown}; every one was absorbed.")


def _how_to_query(db: Path, console: Console) -> None:
    console.print("\n[bold]query the result[/]")
    by_source = "SELECT source, count(*) FROM events GROUP BY source"
    by_severity = (
        "SELECT json_extract(data, '$.severity'), count(*) FROM events "
        "WHERE source = 'xdr_alerts' GROUP BY 1"
    )
    for line in (
        f'sqlite3 {db} "{by_source}"',
        f'sqlite3 {db} "{by_severity}"',
        f"{collectorkit_command()} state show --state sqlite:///{db}",
    ):
        console.print("  " + line, soft_wrap=True, highlight=False, markup=False)


def collectorkit_command() -> str:
    """How to run ``collectorkit`` from here: the script of this virtualenv (relative to the
    current directory when it is below it), else ``python -m collectorkit``."""
    script = Path(sys.executable).parent / "collectorkit"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m collectorkit"
    with contextlib.suppress(ValueError):
        return shlex.quote(
            os.path.relpath(script) if script.is_relative_to(Path.cwd()) else str(script)
        )
    return shlex.quote(str(script))


def _how_to_run(cfg: Path, *, port: int, records: int, console: Console) -> None:
    """The commands that run collectorkit itself on what the demo left behind."""
    exe = collectorkit_command()
    venv = Path(sys.executable).parent.parent
    with contextlib.suppress(ValueError):
        venv = venv.relative_to(Path.cwd())
    profiles = " ".join(f"--profile {p}" for p in _PROFILES.values())
    console.print(
        f"\n[bold]run collectorkit yourself[/] — it is installed in {venv} "
        f"(or [bold]source {venv}/bin/activate[/] and type collectorkit):"
    )
    console.print("  1. the simulator, in another terminal (Ctrl-C stops it):")
    lines = [
        f"{exe} simulate --port {port} --seed 42 --records {records} {profiles}",
        f"{exe} once {shlex.quote(str(cfg))}",
    ]
    console.print("     " + lines[0], soft_wrap=True, highlight=False, markup=False)
    console.print(
        "  2. collect again, once (nothing new is stored twice), or as a daemon with run:"
    )
    console.print("     " + lines[1], soft_wrap=True, highlight=False, markup=False)
    console.print(
        f"  then point the base_url and credentials in {cfg} at your own APIs; "
        f"{exe} --help lists every command.",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


def run_demo_sync(*, records: int = 3000, directory: Path | None = None) -> int:
    from rich.console import Console

    from collectorkit.cli._once import summary_table
    from collectorkit.daemon._logging import configure_logging

    console = Console()
    configure_logging(level="error")
    console.rule("[bold]collectorkit demo")
    started = time.perf_counter()
    demo = run_demo(records=records, directory=directory, console=console)
    results, ok, how_to_run = asyncio.run(demo)
    console.print(summary_table(results, title="what happened", console=console))
    total = sum(r.stats.records for r in results)
    wall = time.perf_counter() - started
    honoured = sum(r.stats.http_429 for r in results)
    retries = sum(r.stats.retries for r in results)
    console.print(
        f"[bold]{total}[/] records, {sum(r.stats.pages for r in results)} pages, "
        f"{retries} retries, {honoured} × 429 honoured (waited as Retry-After asked), "
        f"{wall:.1f}s in all ({total / wall:,.0f} records/s)"
    )
    if not ok or not all(r.ok for r in results):
        console.print("[red]the demo did not end as it should; see above[/]")
        return 1
    how_to_run()
    return 0
