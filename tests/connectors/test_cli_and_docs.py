"""``collectorkit connectors list|show|init``, ``preview`` on a connector source, and the
generated docs pages (stale pages fail)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from collectorkit.cli import app
from collectorkit.config import load_config
from collectorkit.connectors import connector_catalogue
from collectorkit.connectors._docs import index_markdown, render_markdown
from collectorkit.simulator import SimulatorServer, build_config
from tests.connectors._proof import CONNECTORS, source_for

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors"


def test_list_shows_the_eight_one_line_each() -> None:
    result = runner.invoke(app, ["connectors", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == CONNECTORS
    okta = next(line for line in lines if line.startswith("okta "))
    assert "Okta" in okta
    assert "api_key, oauth2" in okta


def test_show_names_options_scopes_limits_and_semantics() -> None:
    result = runner.invoke(app, ["connectors", "show", "github_audit"])
    assert result.exit_code == 0, result.output
    for text in ("`org`", "**required**", "read:audit_log", "1,750", "order=asc", "## Assumptions"):
        assert text in result.output


def test_show_an_unknown_connector_is_one_line_without_a_traceback() -> None:
    result = runner.invoke(app, ["connectors", "show", "oktaa"])
    assert result.exit_code == 2
    assert "unknown connector 'oktaa' (did you mean 'okta'?)" in result.output
    assert "Traceback" not in result.output


def test_init_writes_a_configuration_that_validates(tmp_path: Path) -> None:
    for name in CONNECTORS:
        result = runner.invoke(app, ["connectors", "init", name])
        assert result.exit_code == 0, result.output
        data = yaml.safe_load(result.output)
        assert data["sources"][0]["connector"] == name
        path = tmp_path / f"{name}.yaml"
        path.write_text(result.output, encoding="utf-8")
        env = dict.fromkeys(_variables(result.output), "placeholder-value")
        assert load_config(path, env=env).sources[0].connector == name


def _variables(text: str) -> list[str]:
    import re

    return re.findall(r"\$\{([A-Z0-9_]+)\}", text)


def test_the_docs_pages_are_current() -> None:
    """Regenerate with ``python -m collectorkit.connectors._docs``."""
    connectors = sorted(connector_catalogue().values(), key=lambda c: c.name)
    for connector in connectors:
        page = DOCS / f"{connector.name}.md"
        assert page.read_text(encoding="utf-8") == render_markdown(connector), f"{page} is stale"
    assert (DOCS / "README.md").read_text(encoding="utf-8") == index_markdown(connectors)


def test_preview_works_on_a_connector_source(tmp_path: Path) -> None:
    with SimulatorServer(build_config(seed=5, profiles=["okta"], records=30)) as sim:
        source = source_for("okta", sim)
        config = {
            "state": f"sqlite:///{tmp_path / 'ck.db'}",
            "sinks": [{"type": "sqlite", "path": str(tmp_path / "ck.db")}],
            "status": {"enabled": False},
            "sources": [source],
        }
        path = tmp_path / "ck.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        result = runner.invoke(app, ["preview", str(path), "--pages", "1"])
        assert result.exit_code == 0, result.output
        assert "page 1" in result.output
        assert "next request: GET " in result.output
        assert "/api/v1/logs" in result.output
        assert "BEGIN PRIVATE KEY" not in result.output


def test_list_and_show_a_users_folder(tmp_path: Path) -> None:
    from tests.connectors.test_definitions import _OWN

    (tmp_path / "acme.yaml").write_text(_OWN, encoding="utf-8")
    listed = runner.invoke(app, ["connectors", "list", "--connectors-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert "acme_events" in listed.output
    assert "okta" in listed.output
    shown = runner.invoke(
        app, ["connectors", "show", "acme_events", "--connectors-dir", str(tmp_path)]
    )
    assert shown.exit_code == 0, shown.output
    assert "`tenant`" in shown.output
    missing = runner.invoke(app, ["connectors", "list", "--connectors-dir", str(tmp_path / "no")])
    assert missing.exit_code == 2
    assert "is not a folder of connector definitions" in missing.output
