"""One duration reader: every spelling the library accepts, the YAML file and the command line
accept too, with one error naming the field and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collectorkit import ConfigError, RetryPolicy, TimeoutSettings
from collectorkit._durations import format_duration, parse_duration
from collectorkit.cli._app import app
from collectorkit.config import load_config
from collectorkit.daemon._app import apply_overrides

SPELLINGS = [("1min", 60.0), ("2MIN", 120.0), ("1h30m", 5400.0), ("500ms", 0.5), (" 2 h ", 7200.0)]


def _config(interval: object) -> dict[str, object]:
    source = {"name": "a", "base_url": "https://api.example.test", "request": {"endpoint": "/x"}}
    return {"sources": [{**source, "interval": interval, "timeout": interval}]}


@pytest.mark.parametrize(("text", "seconds"), SPELLINGS)
def test_library_reads_every_spelling(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert TimeoutSettings(read=text).read == seconds
    assert RetryPolicy(initial_delay=text, max_delay="1d").initial_delay == seconds


@pytest.mark.parametrize(("text", "seconds"), SPELLINGS)
def test_yaml_reads_every_spelling(text: str, seconds: float) -> None:
    config = load_config(_config(text), env={})
    assert config.sources[0].interval == seconds
    assert config.sources[0].timeout.read == seconds


def test_cli_reads_1min(tmp_path: Path) -> None:
    path = tmp_path / "collectorkit.yaml"
    path.write_text(yaml.safe_dump(_config("1min")), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    overridden = apply_overrides(load_config(path, env={}), interval="1min")
    assert overridden.sources[0].interval == 60.0


@pytest.mark.parametrize("bad", ["soon", "1 parsec", "1h-5m", True, float("nan")])
def test_one_error_names_field_and_value_everywhere(bad: object) -> None:
    with pytest.raises(ConfigError) as library:
        parse_duration(bad, field="retry.initial_delay")
    assert library.value.path == "retry.initial_delay"
    assert f"{bad!r} is not a duration" in str(library.value)
    with pytest.raises(ConfigError) as yaml_error:
        load_config(_config(bad), env={})
    assert f"sources[0].interval: {bad!r} is not a duration" in str(yaml_error.value)


def test_negative_is_refused_with_the_same_words() -> None:
    with pytest.raises(ConfigError, match=r"^t: -1 is negative; a duration must be >= 0$"):
        parse_duration(-1, field="t")
    with pytest.raises(ConfigError, match=r"-1 is negative; a duration must be >= 0"):
        TimeoutSettings(read=-1)


@pytest.mark.parametrize("seconds", [0, 0.5, 1, 59, 60, 90, 3600, 86400, 604800, 1209600])
def test_format_duration_reads_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
