"""``once`` and ``preview`` on a configuration that does not match the API: exit 1, the path named,
what the responses hold suggested; a correct configuration with nothing new still exits 0.

Against the simulator's generic API, through the real command line.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from collectorkit.cli._app import app
from collectorkit.simulator import SimulatorServer, build_config

runner = CliRunner()

CONFIG = """
state: sqlite:///{db}
sinks:
  - {{type: sqlite, path: {db}}}
status: {{enabled: false}}
sources:
  - name: app_events
    base_url: {url}
    auth: {{type: bearer, token: {token}}}
    interval: 1m
    key_fields: [{key}]
    request:
      endpoint: /v1/events
      params: {{limit: 20}}
      data_path: {data_path}
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: {next_path}}}
      incremental: {{timestamp_field: {timestamp}, start_param: since}}
"""

GOOD = {
    "data_path": "data.events",
    "next_path": "meta.next_cursor",
    "timestamp": "created_at",
    "key": "id",
    "token": "sim-generic-token",
}


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(build_config(seed=5, profiles=["generic"], records=50)) as server:
        yield server


def _config(tmp_path: Path, sim: SimulatorServer | None, **changes: str) -> tuple[Path, Path]:
    db = tmp_path / "c.db"
    path = tmp_path / "c.yaml"
    url = sim.url("generic") if sim is not None else changes.pop("url")
    path.write_text(CONFIG.format(db=db, url=url, **{**GOOD, **changes}))
    return path, db


def _count(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def _row(output: str) -> list[str]:
    """Records, new and duplicates from the summary table's row of ``app_events``."""
    rows = [line.split() for line in output.splitlines() if line.strip().startswith("app_events")]
    return next(r[1:4] for r in rows if r[1].isdigit())


def _once(path: Path) -> Any:
    result = runner.invoke(app, ["once", str(path)], terminal_width=200)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"data_path": "data.event"},
            [
                "request.data_path 'data.event' matched nothing",
                "data.events (20 items)",
                "try data_path: data.events",
            ],
        ),
        (
            {"next_path": "meta.next"},
            [
                "request.pagination.next_cursor_path 'meta.next' matched nothing on page 1",
                "try next_cursor_path: meta.next_cursor",
            ],
        ),
        (
            {"timestamp": "created"},
            [
                "request.incremental.timestamp_field 'created' is missing from all 20 records",
                "try timestamp_field: created_at",
            ],
        ),
        ({"key": "alert_id"}, ["key_fields 'alert_id' matched nothing", "try key_fields: id"]),
    ],
    ids=["data_path", "next_page", "timestamp_field", "key_fields"],
)
def test_once_and_preview_fail_a_configuration_that_does_not_match(
    tmp_path: Path, sim: SimulatorServer, change: dict[str, str], expected: list[str]
) -> None:
    path, _ = _config(tmp_path, sim, **change)
    once = _once(path)
    assert once.exit_code == 1, once.output
    assert "suspect" in once.output
    for text in expected:
        assert text in once.output
    preview = runner.invoke(app, ["preview", str(path)], terminal_width=200)
    assert preview.exit_code == 1, preview.output
    for text in expected:
        assert text.replace("all 20", "all") in preview.output.replace("all 20", "all")


def test_a_correct_config_with_nothing_new_exits_0_and_says_where_records_went(
    tmp_path: Path, sim: SimulatorServer
) -> None:
    path, db = _config(tmp_path, sim)
    first = _once(path)
    assert first.exit_code == 0, first.output
    assert _count(db) == 50
    assert "suspect" not in first.output
    assert f"records went to SQLiteSink sqlite://{db}#events" in first.output
    query = "select source, count(*) from events group by source"
    assert f"sqlite3 {db} '{query}'" in first.output
    assert _row(first.output) == ["50", "50", "0"]  # records, new, duplicates

    again = _once(path)
    assert again.exit_code == 0, again.output
    assert "suspect" not in again.output
    assert _row(again.output) == ["0", "0", "0"]
    preview = runner.invoke(app, ["preview", str(path)], terminal_width=200)
    assert preview.exit_code == 0, preview.output


def test_once_counts_re_delivered_records_apart_from_new_ones(
    tmp_path: Path, sim: SimulatorServer
) -> None:
    path, db = _config(tmp_path, sim)
    assert _once(path).exit_code == 0
    reset = runner.invoke(app, ["state", "reset", "app_events", "-c", str(path), "--yes"])
    assert reset.exit_code == 0, reset.output
    again = _once(path)
    assert again.exit_code == 0, again.output
    assert _row(again.output) == ["50", "0", "50"]
    assert _count(db) == 50


def test_once_prints_a_failure_in_full_with_the_response_body_redacted(
    tmp_path: Path, sim: SimulatorServer
) -> None:
    path, _ = _config(tmp_path, sim, token="wrong-token-value-1234")
    result = _once(path)
    assert result.exit_code == 1
    assert "app_events failed:" in result.output
    assert "failed with status 401" in result.output
    assert "response body (redacted, at most 2048 bytes):" in result.output
    assert '"error"' in result.output or "unauthorized" in result.output.lower()
    assert "wrong-token-value-1234" not in result.output


def test_once_bounds_a_failed_response_body_and_masks_its_secrets(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    body = {
        "error": "invalid_request",
        "detail": "x" * 300,
        "client_secret": "shh-0123456789",
        "trace": "y" * 5000,
    }
    httpserver.expect_request("/v1/events").respond_with_json(body, status=400)
    path, _ = _config(tmp_path, sim=None, url=httpserver.url_for("/").rstrip("/"))
    result = _once(path)
    assert result.exit_code == 1
    assert "failed with status 400" in result.output
    assert '"error": "invalid_request"' in result.output
    assert "shh-0123456789" not in result.output
    assert '"client_secret": "***"' in result.output
    assert "bytes in all)" in result.output  # cut at 2 KB
    assert "y" * 2100 not in result.output.replace("\n", "")


def test_once_says_where_jsonl_records_went(tmp_path: Path, sim: SimulatorServer) -> None:
    path, db = _config(tmp_path, sim)
    out = tmp_path / "out"
    text = path.read_text().replace(
        f"  - {{type: sqlite, path: {db}}}",
        f"  - {{type: sqlite, path: {db}}}\n  - {{type: jsonl, path: '{out}/{{source}}.jsonl'}}",
    )
    path.write_text(text)
    result = _once(path)
    assert result.exit_code == 0, result.output
    assert f"records went to JSONLSink {out}/{{source}}.jsonl" in result.output
    assert f"look at them: ls -R {out}/" in result.output
    assert len((out / "app_events.jsonl").read_text().splitlines()) == 50


@pytest.mark.parametrize(
    ("key", "wrong"), [("data_path", "data.event"), ("next_path", "meta.next")], ids=str
)
def test_a_run_with_a_wrong_path_loses_nothing_once_it_is_fixed(
    tmp_path: Path, sim: SimulatorServer, key: str, wrong: str
) -> None:
    path, db = _config(tmp_path, sim, **{key: wrong})
    assert _once(path).exit_code == 1
    assert _once(path).exit_code == 1  # the saved state did not move past unread records
    _config(tmp_path, sim)  # the same file, the path corrected
    fixed = _once(path)
    assert fixed.exit_code == 0, fixed.output
    assert _count(db) == 50


@pytest.mark.parametrize("width", [76, 200])
def test_why_a_source_stopped_is_never_squeezed_at_any_width(
    tmp_path: Path, sim: SimulatorServer, width: int
) -> None:
    path, _ = _config(tmp_path, sim)
    result = runner.invoke(app, ["once", str(path)], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["source", "records"])
    row = next(
        line for line in lines if line.split()[:1] == ["app_events"] and line.split()[1].isdigit()
    )
    assert len(header) <= width
    assert len(row) <= width
    if width == 76:  # the column would not fit: the reason goes below the table, whole
        assert "stopped: app_events: no next" in " ".join(result.output.split())
        assert header.split()[-1] == "rec/s"
    else:
        assert header.split()[-1] == "stopped"
        assert row.rstrip().endswith("no next")
