"""The ``collectorkit`` command: fast start, validation, state and the seed 002 flags."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from collectorkit.cli._app import app

runner = CliRunner()


HEAVY = (
    "httpx2",
    "fastapi",
    "pydantic",
    "starlette",
    "uvicorn",
    "aiohttp",
    "aiosqlite",
    "structlog",
    "prometheus_client",
    "yaml",
    "orjson",
    "jmespath",
    "psycopg",
    "redis",
    "croniter",
    "jsonschema",
    "rich",
)


def test_importing_the_cli_loads_nothing_heavy() -> None:
    code = (
        "import sys, collectorkit.cli._app, collectorkit\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "run",
        "once",
        "preview",
        "validate",
        "state",
        "serve-storage",
        "simulate",
        "demo",
    ):
        assert command in result.output


def test_help_as_a_subprocess_is_fast_and_light() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "collectorkit", "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage: collectorkit" in out.stdout


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("collectorkit ")


GOOD = """
state: sqlite:///{db}
sinks:
  - {{type: sqlite, path: {db}}}
sources:
  - name: xdr_alerts
    base_url: http://127.0.0.1:9
    auth: {{type: bearer, token: "${{XDR_TOKEN_FOR_TEST}}"}}
    interval: 30s
    request:
      endpoint: /v1/alerts
      data_path: data.alerts
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
"""


def test_validate_accepts_a_good_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDR_TOKEN_FOR_TEST", "t0k3n-value-xyz")
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.format(db=tmp_path / "c.db"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "xdr_alerts" in result.output
    assert "t0k3n-value-xyz" not in result.output


def test_validate_names_the_yaml_path_of_a_mistake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDR_TOKEN_FOR_TEST", "t0k3n-value-xyz")
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.format(db=tmp_path / "c.db").replace("mode: cursor", "mode: curser"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "sources[0].request.pagination.mode" in result.output
    assert "curser" in result.output
    assert "Traceback" not in result.output


def test_validate_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output
    assert "Traceback" not in result.output


def test_validate_can_print_the_json_schema() -> None:
    result = runner.invoke(app, ["validate", "--schema", "x.yaml"])
    assert result.exit_code == 0
    assert '"sources"' in result.output


SIM_CONFIG = """
state: sqlite:///{db}
sinks:
  - {{type: sqlite, path: {db}}}
status: {{enabled: false}}
sources:
  - name: app_events
    base_url: {url}
    auth: {{type: bearer, token: sim-generic-token}}
    interval: 1m
    request:
      endpoint: /v1/events
      params: {{limit: 30}}
      data_path: data.events
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
      incremental: {{timestamp_field: created_at, start_param: since}}
    pipeline:
      - filter: {{expression: "severity != 'low'"}}
    callbacks:
      - {{python: "tests.delivery.hookfuncs:remember"}}
"""


@pytest.fixture
def sim_config(tmp_path: Path) -> Iterator[tuple[Path, Path, Any]]:
    from collectorkit.simulator import SimulatorServer, build_config

    with SimulatorServer(build_config(seed=9, profiles=["generic"], records=100)) as sim:
        db = tmp_path / "c.db"
        path = tmp_path / "c.yaml"
        path.write_text(SIM_CONFIG.format(db=db, url=sim.url("generic")))
        yield path, db, sim


def _count(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def test_preview_shows_records_and_the_next_request_and_stores_nothing(
    sim_config: tuple[Path, Path, Any],
) -> None:
    path, db, sim = sim_config
    result = runner.invoke(app, ["preview", str(path), "--pages", "2"])
    assert result.exit_code == 0, result.output
    assert "page 1" in result.output
    assert "page 2" in result.output
    assert "key app_events:evt-" in result.output
    assert "next request: GET /v1/events?" in result.output
    assert "cursor=" in result.output
    assert "nothing was stored" in result.output
    assert "sim-generic-token" not in result.output
    assert not db.exists() or _count(db) == 0
    assert len(sim.ledger.served_ids("generic")) == 60


def test_once_collects_with_a_summary_then_state_show_reset_set(
    sim_config: tuple[Path, Path, Any],
) -> None:
    from tests.delivery import hookfuncs

    path, db, sim = sim_config
    hookfuncs.CALLS.clear()
    result = runner.invoke(app, ["once", str(path)])
    assert result.exit_code == 0, result.output
    assert "app_events" in result.output
    served = sim.simulator.records("generic")
    kept = [r for r in served if r["severity"] != "low"]
    assert _count(db) == len(kept)
    called = [i for _, ids in hookfuncs.CALLS for i in ids]
    assert sorted(called) == sorted(r["id"] for r in kept)
    assert "summary" in result.output or "once" in result.output

    shown = runner.invoke(app, ["state", "show", "app_events", "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "collector_state" in shown.output
    assert "watermarks" in shown.output
    assert "processed_ids" in shown.output

    moved = runner.invoke(
        app, ["state", "set", "app_events", "--watermark", "2020-01-01T00:00:00Z", "-c", str(path)]
    )
    assert moved.exit_code == 0, moved.output
    assert "2020-01-01T00:00:00" in moved.output

    bad = runner.invoke(
        app, ["state", "set", "app_events", "--watermark", "yesterday", "-c", str(path)]
    )
    assert bad.exit_code == 2  # a bad value, as for every command
    assert "not a timestamp: 'yesterday'" in bad.output

    gone = runner.invoke(app, ["state", "reset", "app_events", "-c", str(path), "--yes"])
    assert gone.exit_code == 0, gone.output
    assert "collector_state/app_events" in gone.output
    empty = runner.invoke(app, ["state", "show", "app_events", "--config", str(path)])
    assert empty.exit_code == 1
    assert "no saved state" in empty.output


def test_once_names_an_unknown_source(sim_config: tuple[Path, Path, Any]) -> None:
    path, _, _ = sim_config
    result = runner.invoke(app, ["once", str(path), "--source", "nope"])
    assert result.exit_code == 2
    assert "no source 'nope'" in result.output
    assert "app_events" in result.output


def test_run_refuses_xdr_flags_with_a_config_file(sim_config: tuple[Path, Path, Any]) -> None:
    path, _, _ = sim_config
    result = runner.invoke(app, ["run", str(path), "--base-url", "https://x.example"])
    assert result.exit_code == 2
    assert "--base-url and --auth-token apply without a configuration file only" in result.output


def test_run_rejects_a_bad_callback(sim_config: tuple[Path, Path, Any]) -> None:
    path, _, _ = sim_config
    result = runner.invoke(app, ["run", str(path), "--callback", "email:me@example.com"])
    assert result.exit_code == 2
    assert "--callback" in result.output


@pytest.mark.slow
def test_demo_collects_everything_exactly_once(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "collectorkit", "demo", "--records", "400", "--keep", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    for source in ("xdr_alerts", "okta_system_log", "app_events"):
        assert f"✓ {source}: served 400, stored 400, lost 0, duplicated 0" in out.stdout
    assert "429 honoured" in out.stdout
    assert "records/s" in out.stdout
    assert "Traceback" not in out.stderr
    assert _count(tmp_path / "demo.db") == 1200


def _free_port() -> int:
    import socket

    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_then_stop(
    args: list[str], url: str, headers: dict[str, str], tmp_path: Path, sig: int = signal.SIGINT
) -> int:
    import time

    import httpx2

    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "collectorkit", *args], stdout=log, stderr=log, cwd=tmp_path
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = httpx2.get(url, headers=headers, timeout=2).status_code
                break
            except httpx2.TransportError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0, (tmp_path / "serve.log").read_text()
        return status
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_simulate_serves_the_vendor_apis(tmp_path: Path) -> None:
    port = _free_port()
    args = ["simulate", "--port", str(port), "--profile", "generic", "--records", "10"]
    url = f"http://127.0.0.1:{port}/generic/v1/events"
    assert (
        _serve_then_stop(args, url, {"Authorization": "Bearer sim-generic-token"}, tmp_path) == 200
    )


@pytest.mark.slow
def test_serve_storage_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    args = ["serve-storage", "--port", str(port), "--state", f"sqlite:///{tmp_path / 's.db'}"]
    url = f"http://127.0.0.1:{port}/health"
    assert _serve_then_stop(args, url, {}, tmp_path, sig=signal.SIGTERM) == 200


def test_serve_storage_refuses_a_public_address_without_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STORAGE_SERVICE_TOKEN", raising=False)
    result = runner.invoke(app, ["serve-storage", "--host", "0.0.0.0", "--port", "1"])  # noqa: S104
    assert result.exit_code == 2
    assert "token" in result.output


def test_once_sends_invalid_records_to_the_configured_dead_letter_sink(
    sim_config: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    path, db, _ = sim_config
    text = path.read_text().replace(
        "      - filter: {expression: \"severity != 'low'\"}",
        "      - filter: {expression: \"severity != 'low'\"}\n      - validate: [no_such_field]",
    )
    dead = tmp_path / "dead"
    text = text.replace(
        "status: {enabled: false}",
        f"status: {{enabled: false}}\ndead_letter: {{type: jsonl, path: {dead}/{{source}}.jsonl}}",
    )
    path.write_text(text)
    result = runner.invoke(app, ["once", str(path)])
    assert result.exit_code == 1, result.output  # rejected records are errors of the run
    assert "rejected by the pipeline, kept in" in result.output
    letters = [line for f in dead.glob("*.jsonl") for line in f.read_text().splitlines()]
    assert letters
    assert "no_such_field" in letters[0]
    assert not db.exists() or _count(db) == 0


def test_polling_disabled_exits_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDR_BASE_URL", "https://api.example.com")
    monkeypatch.setenv("XDR_AUTH_TOKEN", "k-123456")
    monkeypatch.setenv("XDR_POLL_ENABLED", "false")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0
    assert "no enabled source" in result.output


def test_interval_flag_overrides_every_source(tmp_path: Path) -> None:
    from collectorkit import ConfigError
    from collectorkit.config._load import load_config
    from collectorkit.daemon._app import apply_overrides, schedule_for

    path = tmp_path / "c.yaml"
    path.write_text(SIM_CONFIG.format(db=tmp_path / "c.db", url="http://127.0.0.1:9"))
    config = apply_overrides(load_config(path), interval="90s")
    assert schedule_for(config.sources[0]).interval == 90
    assert schedule_for(config.sources[0]).effective_jitter == 9
    with pytest.raises(ConfigError, match="--interval"):
        apply_overrides(config, interval="often")


def test_validate_imports_the_callbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDR_TOKEN_FOR_TEST", "t0k3n-value-xyz")
    path = tmp_path / "c.yaml"
    text = (
        GOOD.format(db=tmp_path / "c.db") + '    callbacks: [{python: "tests.delivery.nope:f"}]\n'
    )
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert (
        "sources[0].callbacks[0].python: cannot import module 'tests.delivery.nope'"
        in result.output
    )


def test_state_show_and_reset_print_the_state_url_without_its_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}?password=hunter2-state"
    shown = runner.invoke(app, ["state", "show", "--state", url])
    assert shown.exit_code == 1, shown.output
    assert "no state yet at" in shown.output
    assert "password=***" in shown.output
    made = runner.invoke(app, ["state", "set", "app_events", "--cursor", "c1", "--state", url])
    assert made.exit_code == 0, made.output
    asked = runner.invoke(app, ["state", "reset", "app_events", "--state", url], input="n\n")
    assert "Delete all saved state of 'app_events' in" in asked.output
    assert "hunter2-state" not in shown.output + asked.output
