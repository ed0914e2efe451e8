"""Hostile configuration files: an alias bomb, absurd nesting and an endless ``${file:}`` fail fast
with a message naming the file (line and column) or the YAML path — never a traceback, never
gigabytes of memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectorkit import ConfigError
from collectorkit.cli._app import app
from collectorkit.config._load import (
    MAX_YAML_DEPTH,
    MAX_YAML_VALUES,
    load_config,
    parse_config_text,
)
from collectorkit.config._refs import MAX_FILE_REFERENCE_BYTES


def _alias_bomb() -> str:
    """Nine levels of nine aliases each: ~900 bytes that expand to 9^9 (387 million) strings."""
    lines = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\nsources: *i\n"


def test_an_alias_bomb_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(), encoding="utf-8")
    assert path.stat().st_size < 1000
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    assert f"more than {MAX_YAML_VALUES} values" in message
    assert "alias" in message


def test_aliases_within_the_limit_still_work() -> None:
    text = "defaults: &d {interval: 30s, retry: {max_attempts: 3}}\nx: *d\ny: [*d, *d]\n"
    data = parse_config_text(text)
    assert data["y"][1] == {"interval": "30s", "retry": {"max_attempts": 3}}


@pytest.mark.parametrize("style", ["flow", "block"])
def test_absurd_nesting_is_a_clear_error_not_a_recursion_error(tmp_path: Path, style: str) -> None:
    depth = 500
    if style == "flow":
        text = "sources: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n"
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    assert f"nested deeper than {MAX_YAML_DEPTH} levels" in message


def test_nesting_within_the_limit_still_loads() -> None:
    depth = MAX_YAML_DEPTH - 2
    assert parse_config_text("x: " + "[" * depth + "]" * depth + "\n") is not None


def test_an_endless_file_reference_is_too_large(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * (MAX_FILE_REFERENCE_BYTES + 1))
    for target in ("/dev/zero", str(big)):
        data = {
            "sources": [
                {
                    "name": "a",
                    "base_url": "https://api.example.test",
                    "request": {"endpoint": "/x"},
                    "auth": {"type": "bearer", "token": f"${{file:{target}}}"},
                }
            ]
        }
        started = time.monotonic()
        with pytest.raises(ConfigError) as caught:
            load_config(data, env={})
        assert time.monotonic() - started < 2
        message = str(caught.value)
        assert "sources[0].auth.token" in message
        assert f"file too large: {target} is larger than {MAX_FILE_REFERENCE_BYTES} bytes" in (
            message
        )


def test_validate_prints_the_errors_without_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    for name, text in (
        ("bomb.yaml", _alias_bomb()),
        ("deep.yaml", "sources: " + "[" * 500 + "]" * 500 + "\n"),
        ("zero.yaml", "state: ${file:/dev/zero}\n"),
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code != 0, name
        assert "Traceback" not in result.output, result.output
        assert "RecursionError" not in result.output
        assert str(path) in result.output or "state" in result.output, result.output
