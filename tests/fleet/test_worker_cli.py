"""``collectorkit worker``: its help documents the deployment; a configuration the fleet cannot
share is refused with the setting named, before anything is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectorkit.cli import app

runner = CliRunner()

SOURCE = """
sources:
  - name: a
    base_url: http://127.0.0.1:9/
    interval: 1m
    request: {endpoint: /v1/events}
"""


def test_help_documents_the_deployment() -> None:
    result = runner.invoke(app, ["worker", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for words in (
        "PostgreSQL",
        "PgBouncer",
        "session pooling",
        "LISTEN/NOTIFY",
        "procrastinate_jobs",
    ):
        assert words in text


def test_a_sqlite_state_is_refused_naming_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state: sqlite:///{tmp_path}/s.db\n{SOURCE}")
    result = runner.invoke(app, ["worker", str(config)])
    assert result.exit_code == 2
    assert "error: state: collectorkit worker needs a PostgreSQL state" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "s.db").exists()


def test_coordination_must_be_postgresql(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"coordination: redis://127.0.0.1:6379\n{SOURCE}")
    result = runner.invoke(app, ["worker", str(config)])
    assert result.exit_code == 2
    assert "coordination" in result.output
    assert "postgresql://" in result.output


def test_stall_detection_must_be_slower_than_the_heartbeat(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"fleet: {{heartbeat: 10s, stalled_after: 5s}}\n{SOURCE}")
    result = runner.invoke(app, ["validate", str(config)])
    assert result.exit_code != 0
    assert "fleet" in result.output
    assert "stalled_after" in result.output


@pytest.mark.integration
def test_an_unreachable_coordination_database_is_named_without_a_traceback(
    tmp_path: Path, postgres_fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default sink's file (./collectorkit.db) stays out of the repo
    config = tmp_path / "c.yaml"
    config.write_text(
        f"state: {postgres_fresh_url}\n"
        "coordination: postgresql://fleet:s3cret-pw@127.0.0.1:1/jobs\n"
        "status: {enabled: false}\n"
        f"{SOURCE}"
    )
    result = runner.invoke(app, ["worker", str(config)])
    assert result.exit_code == 1
    assert "error: coordination: the workers' database" in result.output
    assert "127.0.0.1:1/jobs" in result.output
    assert "s3cret-pw" not in result.output
    assert "Traceback" not in result.output
