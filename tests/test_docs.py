"""The README and docs/ a newcomer reads: standard YAML, no link to a file a clone lacks, the
docs linked from the README, and the first-collector walkthrough run as written."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collectorkit.cli._app import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    ROOT / "src" / "collectorkit" / "simulator" / "README.md",  # linked from the README
]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
runner = CliRunner()


def _blocks(page: Path, *languages: str) -> Iterator[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    for match in FENCE.finditer(text):
        if match.group(1) in languages:
            yield text[: match.start()].count("\n") + 1, match.group(2)


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_yaml_block_is_standard_yaml(page: Path) -> None:
    bad = []
    for line, block in _blocks(page, "yaml", "yml"):
        try:
            yaml.safe_load(block)
        except yaml.YAMLError as exc:
            bad.append(f"{_name(page)}:{line}: {str(exc).splitlines()[0]}")
    assert not bad


_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_PATH = re.compile(r"`((?:docs|examples|src|bench|tests|scripts)/[^`\s*{}]+|[\w./-]+\.md)`")


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_links_and_named_files_exist_in_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    targets = {t for t in _LINK.findall(text) if "://" not in t and not t.startswith("mailto:")}
    missing = [t for t in sorted(targets) if not (page.parent / t).exists()]
    if page.name == "README.md" and page.parent == ROOT:  # paths written as code, from the root
        missing += [p for p in sorted(set(_PATH.findall(text))) if not (ROOT / p).exists()]
    missing += [name for name in ("DESIGN.md", "shared/") if name in text]  # outside the repo
    assert not missing


def test_readme_links_the_docs() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in ("docs/architecture.md", "docs/configuration.md", "docs/first-collector.md"):
        assert f"]({doc})" in text


def test_validate_schema_needs_no_configuration_file() -> None:
    result = runner.invoke(app, ["validate", "--schema"])
    assert result.exit_code == 0, result.output
    assert "sources" in json.loads(result.output)["properties"]
    nothing = runner.invoke(app, ["validate"])
    assert nothing.exit_code == 2
    assert "give the configuration file" in nothing.output


def test_the_first_collector_walkthrough_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collectorkit.simulator import SimulatorServer, build_config

    page = ROOT / "docs" / "first-collector.md"
    [(_, config)] = list(_blocks(page, "yaml"))
    commands = [
        shlex.split(line)
        for _, block in _blocks(page, "sh")
        for line in block.splitlines()
        if line.startswith("collectorkit ")
    ]
    steps = [c[1:] for c in commands if c[1] not in ("simulate", "run")]
    assert [s[0] for s in steps] == ["validate", "preview", "once", "state", "once"]
    simulate = next(c for c in commands if c[1] == "simulate")
    records = int(simulate[simulate.index("--records") + 1])
    exports = [
        line.split()[1].split("=", 1)
        for _, block in _blocks(page, "sh")
        for line in block.splitlines()
        if line.startswith("export ")
    ]
    monkeypatch.chdir(tmp_path)
    for name, value in exports:
        monkeypatch.setenv(name, value)
    with SimulatorServer(build_config(seed=1, profiles=["generic"], records=records)) as sim:
        (tmp_path / "first.yaml").write_text(
            config.replace("http://127.0.0.1:8900", sim.base_url), encoding="utf-8"
        )
        results = [runner.invoke(app, step) for step in steps]
        stored = len(sim.ledger.served_ids("generic"))
    for step, result in zip(steps, results, strict=True):
        assert result.exit_code == 0, f"collectorkit {shlex.join(step)}:\n{result.output}"
    assert stored == records
    assert "first.yaml: OK" in results[0].output
    assert "nothing was stored" in results[1].output
    assert "collector_state" in results[3].output
    shown = runner.invoke(app, ["state", "show", "app_events", "-c", "first.yaml", "--json"])
    assert json.loads(shown.output)["entries"][0]["value"]["watermark"]
