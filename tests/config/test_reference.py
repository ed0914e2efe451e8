"""docs/configuration.md is generated from the schema, covers every option, and is current."""

from __future__ import annotations

from pathlib import Path

from collectorkit.config._reference import render_reference
from collectorkit.config._schema import config_json_schema

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_committed_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), (
        "docs/configuration.md is stale: run python -m collectorkit.config._schema"
    )


def test_every_option_of_every_definition_has_a_row() -> None:
    schema = config_json_schema()
    text = render_reference(schema)
    definitions = [schema, *schema["$defs"].values()]
    sinks = schema["$defs"]["SinkConfig"]["anyOf"]
    steps = schema["$defs"]["ProcessorStep"]["anyOf"][1]["properties"].values()
    definitions += [*sinks, *(step["anyOf"][0] for step in steps)]
    missing = [
        name
        for definition in definitions
        for name in definition.get("properties", {})
        if f"| `{name}` |" not in text and name != "type"
    ]
    assert not missing


def test_every_kind_has_its_section() -> None:
    text = render_reference()
    for kind in ("api_key", "basic", "bearer", "oauth2"):
        assert f"### `type: {kind}`" in text
    for mode in ("cursor", "page", "offset", "link", "none"):
        assert f"### `mode: {mode}`" in text
    for sink in ("sqlite", "jsonl", "postgres", "webhook"):
        assert f"### `type: {sink}`" in text
    for processor in ("dedup", "filter", "map"):
        assert f"### `{processor}`" in text
    assert "`{start}`" in text
    assert "`{end}`" in text
    assert "| `initial_lookback` |" in text
