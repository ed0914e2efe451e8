"""Structured logs: JSON lines when not a terminal, secrets masked by name and by value."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from rich.console import Console

from collectorkit._errors import CollectorError, ConfigError, StateStoreUnavailableError
from collectorkit.daemon._logging import configure_logging, print_command_error, register_secrets


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_off_a_terminal_with_secrets_masked() -> None:
    out = io.StringIO()
    configure_logging(level="info", stream=out)
    register_secrets("s3cr3t-v4lue-991")
    log = structlog.get_logger("t")
    log.info("polling", source="xdr", api_token="tok-abc", note="sent s3cr3t-v4lue-991 upstream")
    log.debug("hidden at info level")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "polling"
    assert event["level"] == "info"
    assert event["source"] == "xdr"
    assert event["api_token"] == "***"
    assert event["note"] == "sent *** upstream"
    assert "timestamp" in event
    assert "s3cr3t" not in out.getvalue()


def test_a_terminal_gets_the_console_format_and_debug_when_asked() -> None:
    out = _TTY()
    configure_logging(level="debug", stream=out)
    structlog.get_logger("t").debug("details", password="hunter2-hunter2")
    text = out.getvalue()
    assert "details" in text
    assert not text.lstrip().startswith("{")
    assert "hunter2" not in text


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (KeyError("no source 'nope'"), 2, "error: no source 'nope'"),
        (ConfigError("expected a number", path="sources[0].limit"), 2, "sources[0].limit"),
        (StateStoreUnavailableError("store down"), 1, "error: store down"),
    ],
)
def test_a_command_error_is_one_line_with_its_exit_code(
    error: KeyError | CollectorError, code: int, line: str
) -> None:
    out = io.StringIO()
    assert print_command_error(Console(file=out, width=200), error) == code
    printed = out.getvalue()
    assert line in printed
    assert printed.count("\n") == 1
