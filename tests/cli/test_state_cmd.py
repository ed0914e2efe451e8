"""``collectorkit state show|set|reset``: only the state store's settings are needed, a missing
SQLite file is "no state yet" (never a new empty database), ``--json`` for scripts, and the
errors of a store that refuses the login tell the truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectorkit.cli._app import app

runner = CliRunner()

# the sources' secrets are not set when the state is looked at: only ${STATE_DIR} is
CONFIG = """
state: sqlite:///${{STATE_DIR}}/state.db
sinks:
  - {{type: sqlite, path: "${{STATE_DIR}}/state.db"}}
sources:
  - name: app_events
    base_url: https://api.example.com
    auth: {{type: bearer, token: "${{APP_TOKEN_NOT_SET}}"}}
    request: {{endpoint: /v1/events, data_path: data.events}}
"""


@pytest.fixture(autouse=True)
def _no_storage_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_SERVICE_URL", raising=False)
    monkeypatch.delenv("STORAGE_SERVICE_TOKEN", raising=False)
    monkeypatch.delenv("APP_TOKEN_NOT_SET", raising=False)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    path = tmp_path / "collectorkit.yaml"
    path.write_text(CONFIG.format())
    return path


def test_show_on_a_missing_file_is_no_state_yet_and_creates_nothing(
    config: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["state", "show", "-c", str(config)])
    assert result.exit_code == 1, result.output
    assert f"no state yet at {tmp_path / 'state.db'}" in result.output
    assert "APP_TOKEN_NOT_SET" not in result.output  # the source's secret is not needed
    assert not (tmp_path / "state.db").exists()


def test_reset_on_a_missing_file_creates_nothing(config: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["state", "reset", "app_events", "-c", str(config), "--yes"])
    assert result.exit_code == 0, result.output
    assert "no state yet at" in result.output
    assert not (tmp_path / "state.db").exists()


def test_set_show_reset_with_json_and_without_the_sources_secrets(config: Path) -> None:
    when = ["--watermark", "2024-05-01T00:00:00Z"]
    moved = runner.invoke(app, ["state", "set", "app_events", *when, "-c", str(config), "--json"])
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.output)["watermark"].startswith("2024-05-01T00:00:00")

    shown = runner.invoke(app, ["state", "show", "app_events", "-c", str(config), "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["state"].endswith("state.db")
    [entry] = data["entries"]
    assert (entry["namespace"], entry["key"]) == ("collector_state", "app_events")
    assert entry["value"]["watermark"].startswith("2024-05-01T00:00:00")
    assert entry["version"] == 1

    gone = runner.invoke(app, ["state", "reset", "app_events", "-c", str(config), "-y", "--json"])
    assert gone.exit_code == 0, gone.output
    assert json.loads(gone.output)["deleted"] == ["collector_state/app_events"]
    empty = runner.invoke(app, ["state", "show", "-c", str(config), "--json"])
    assert empty.exit_code == 1
    assert json.loads(empty.output)["entries"] == []


def test_a_missing_state_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIR", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format())
    result = runner.invoke(app, ["state", "show", "-c", str(path)])
    assert result.exit_code == 2
    assert "state" in result.output
    assert "STATE_DIR" in result.output
    assert "APP_TOKEN_NOT_SET" not in result.output


def test_a_file_without_state_uses_storage_service_url_like_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format().replace("state: sqlite:///${STATE_DIR}/state.db\n", ""))
    monkeypatch.setenv("STORAGE_SERVICE_URL", f"sqlite:///{tmp_path / 'service.db'}")
    result = runner.invoke(app, ["state", "show", "-c", str(path), "--json"])
    assert json.loads(result.output)["state"].endswith("service.db"), result.output


@pytest.mark.integration
@pytest.mark.parametrize("command", [["state", "show"], ["run", "--status-port", "0"]])
def test_a_refused_postgresql_password_is_authentication_failed(
    postgres_password_url: str, tmp_path: Path, command: list[str]
) -> None:
    url = postgres_password_url.replace("right-password", "wrong-password")
    path = tmp_path / "c.yaml"
    path.write_text(
        f"state: {url}\nsources:\n  - name: a\n    base_url: http://127.0.0.1:9\n"
        "    request: {endpoint: /x}\n"
    )
    args = [*command, "-c", str(path)] if command[0] == "state" else [*command[:1], str(path)]
    args += command[1:] if command[0] == "run" else []
    done = subprocess.run(
        [sys.executable, "-m", "collectorkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "authentication failed" in output
    assert "unreachable" not in output
    assert "psycopg" not in output  # no raw driver warnings
    assert "fallback_to_memory" not in output  # no Python-argument hints
    assert "Traceback" not in output
    assert "wrong-password" not in output
