"""The published JSON Schema is current, valid, and agrees with the loader on examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from collectorkit.config._issues import ConfigValidationError
from collectorkit.config._load import load_config, parse_config_text
from collectorkit.config._schema import render_config_schema

from .test_load import DESIGN_EXAMPLE

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "config.schema.json"


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_config_schema(), (
        "docs/config.schema.json is stale: run python -m collectorkit.config._schema"
    )


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(render_config_schema()))


def test_schema_accepts_the_design_example_and_rejects_a_bad_mode() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(render_config_schema()))
    document = parse_config_text(DESIGN_EXAMPLE)
    assert list(validator.iter_errors(document)) == []
    document["sources"][0]["request"]["pagination"]["mode"] = "curser"
    assert list(validator.iter_errors(document))
    with pytest.raises(ConfigValidationError):
        load_config(document, env={"XDR_BASE_URL": "https://x.test", "XDR_AUTH_TOKEN": "t"})


def test_schema_covers_sink_and_processor_options() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(render_config_schema()))
    document = parse_config_text(DESIGN_EXAMPLE)
    document["sinks"][1]["batch_size"] = "many"  # not an option of the jsonl sink
    assert list(validator.iter_errors(document))
    document = parse_config_text(DESIGN_EXAMPLE)
    document["sources"][0]["pipeline"] = [{"dedup": {"max_size": "lots"}}]
    assert list(validator.iter_errors(document))
    document["sources"][0]["pipeline"] = [{"dedup": {"key": "id", "max_size": 5}}, "mask"]
    assert list(validator.iter_errors(document)) == []


def test_schema_options_are_the_library_objects_options() -> None:
    from collectorkit.http import RetryPolicy

    schema = json.loads(render_config_schema())
    retry = schema["$defs"]["RetryPolicy"]["properties"]
    assert retry["max_attempts"]["default"] == RetryPolicy().max_attempts
    assert retry["max_delay"]["default"] == RetryPolicy().max_delay


def test_incremental_durations_are_durations_in_the_schema_the_yaml_and_the_library() -> None:
    from collectorkit.collect import IncrementalConfig

    validator = jsonschema.Draft202012Validator(json.loads(render_config_schema()))
    document = parse_config_text(DESIGN_EXAMPLE)
    incremental = document["sources"][0]["request"]["incremental"]
    incremental.update(overlap="5 min", end_lag="30s", max_window="1h")
    assert list(validator.iter_errors(document)) == []
    library = IncrementalConfig(
        timestamp_field="created_at",
        start_param="since",
        initial_lookback="7d",
        overlap="5 min",
        end_lag="30s",
        max_window="1h",
    )
    env = {"XDR_BASE_URL": "https://x.test", "XDR_AUTH_TOKEN": "t"}
    assert load_config(document, env=env).sources[0].request.incremental == library
    incremental["overlap"] = "five minutes"
    assert list(validator.iter_errors(document))


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["--out", "x.json"]])
def test_the_schema_writer_never_takes_an_option_for_a_path(
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from collectorkit.config._schema import main

    monkeypatch.chdir(tmp_path)
    code = main(args)
    assert code == (0 if args[0].startswith("-h") or args == ["--help"] else 2)
    assert "usage:" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
