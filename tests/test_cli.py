"""The ``collectorkit`` command: fast start, validation, state and the seed 002 flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectorkit.cli import app

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
        "import sys, collectorkit.cli, collectorkit\n"
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
