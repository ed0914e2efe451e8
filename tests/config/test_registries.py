"""One registry shape for every extension point the YAML names, and one unknown-name error.

Each extension point (auth kinds, pagination modes, sinks, processors, state stores) is a
:class:`collectorkit._registry.Registry`; an unknown name reads the same from the library, the
YAML loader and ``collectorkit validate``: the path, a suggestion, and every known name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from collectorkit._errors import ConfigError
from collectorkit._registry import Registry
from collectorkit.cli._app import app
from collectorkit.collect import PaginationConfig
from collectorkit.collect._pagination import PAGINATION_MODES
from collectorkit.config import ConfigValidationError, load_config
from collectorkit.http import BearerTokenAuthHandler
from collectorkit.http._auth_kinds import AUTH_KINDS, build_auth_handler
from collectorkit.pipeline import PROCESSORS, build_processor, register_processor
from collectorkit.sinks import SINKS, MemorySink, build_sink, register_sink
from collectorkit.state import (
    STATE_STORE_SCHEMES,
    MemoryStateStore,
    create_state_store,
    register_state_store,
)

# extension point -> (registry, what it is called, the bad name, the library call, its path)
LIBRARY: dict[str, tuple[Registry[Any], str, str, Callable[[], object], str]] = {
    "auth": (
        AUTH_KINDS,
        "auth kind",
        "kerberos",
        lambda: build_auth_handler("kerberos"),
        "auth.type",
    ),
    "pagination": (
        PAGINATION_MODES,
        "pagination mode",
        "curser",
        lambda: PaginationConfig(mode="curser"),  # type: ignore[arg-type]
        "pagination.mode",
    ),
    "sink": (
        SINKS,
        "sink type",
        "sqlit",
        lambda: build_sink({"type": "sqlit"}, path="sinks[0]"),
        "sinks[0].type",
    ),
    "processor": (
        PROCESSORS,
        "processor",
        "dedupe",
        lambda: build_processor("dedupe", path="pipeline[0]"),
        "pipeline[0]",
    ),
    "state": (
        STATE_STORE_SCHEMES,
        "state store URL scheme",
        "mysql",
        lambda: create_state_store("mysql://user:pw-7781@db/x"),
        "state",
    ),
}

# the same mistakes in a configuration file, and where the loader must place them
YAML = """\
state: mysql://user:pw-7781@db/x
sinks: [{type: sqlit}]
sources:
  - name: a
    base_url: https://a.test
    auth: {type: kerberos}
    request: {endpoint: /e, pagination: {mode: curser}}
    pipeline: [dedupe]
"""
YAML_PATHS = {
    "auth": "sources[0].auth.type",
    "pagination": "sources[0].request.pagination.mode",
    "sink": "sinks[0].type",
    "processor": "sources[0].pipeline[0]",
    "state": "state",
}


def _expected(point: str) -> str:
    _, what, bad, _, _ = LIBRARY[point]
    return f"unknown {what} {bad!r}"


@pytest.mark.parametrize("point", LIBRARY)
def test_the_library_names_the_path_and_lists_the_known_names(point: str) -> None:
    registry, _, _, call, path = LIBRARY[point]
    with pytest.raises(ConfigError) as info:
        call()
    assert info.value.path == path
    assert info.value.reason.startswith(_expected(point))
    assert info.value.reason.endswith(f"; known: {', '.join(registry)}")
    assert "pw-7781" not in str(info.value)


def test_the_yaml_names_the_path_and_lists_the_known_names(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(YAML, encoding="utf-8")
    with pytest.raises(ConfigValidationError) as info:
        load_config(path, env={})
    issues = dict(info.value.issues)
    for point, where in YAML_PATHS.items():
        registry = LIBRARY[point][0]
        assert issues[where].startswith(_expected(point)), point
        assert issues[where].endswith(f"; known: {', '.join(registry)}"), point
    assert "pw-7781" not in str(info.value)


def test_cli_validate_names_the_path_and_lists_the_known_names(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(YAML, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code != 0
    for point, where in YAML_PATHS.items():
        registry = LIBRARY[point][0]
        line = f"{where}: {_expected(point)}"
        assert line in result.output, result.output
        assert f"known: {', '.join(registry)}" in result.output
    assert "pw-7781" not in result.output


def test_the_suggestion_is_the_closest_known_name() -> None:
    with pytest.raises(ConfigError, match=r"\(did you mean 'sqlite'\?\)"):
        build_sink({"type": "sqlit"})
    with pytest.raises(ConfigError, match=r"\(did you mean 'cursor'\?\)"):
        PaginationConfig(mode="curser")  # type: ignore[arg-type]


@pytest.fixture
def plugins() -> Iterator[None]:
    register_sink("capture", MemorySink)
    register_processor("passthrough", lambda: lambda record: record)
    register_state_store("mem2", lambda url, options: MemoryStateStore())
    AUTH_KINDS.register("token2", BearerTokenAuthHandler)
    yield
    SINKS.unregister("capture")
    PROCESSORS.unregister("passthrough")
    STATE_STORE_SCHEMES.unregister("mem2")
    AUTH_KINDS.unregister("token2")


@pytest.mark.usefixtures("plugins")
def test_plugins_register_through_the_registry_and_are_listed() -> None:
    assert isinstance(build_sink({"type": "capture"}), MemorySink)
    assert build_processor("passthrough")({"id": 1}) == {"id": 1}
    assert isinstance(create_state_store("MEM2://x"), MemoryStateStore)  # schemes fold case
    assert isinstance(build_auth_handler("token2", token="t"), BearerTokenAuthHandler)
    with pytest.raises(ConfigError) as info:
        build_sink({"type": "nope"})
    assert "capture" in info.value.reason.rpartition("known: ")[2].split(", ")
    config = load_config(
        {
            "state": "mem2://x",
            "sinks": [{"type": "capture"}],
            "sources": [
                {
                    "name": "a",
                    "base_url": "https://a.test",
                    "request": {"endpoint": "/e"},
                    "pipeline": ["passthrough"],
                }
            ],
        },
        env={},
    )
    assert config.sinks[0].type == "capture"


def test_a_registry_is_a_sorted_read_only_mapping() -> None:
    registry: Registry[int] = Registry("widget", {"b": 2, "a": 1}, path="widget")
    assert list(registry) == ["a", "b"]
    assert dict(registry) == {"a": 1, "b": 2}
    assert "c" not in registry
    assert 5 not in registry
    assert registry.lookup("a") == 1
    with pytest.raises(ConfigError) as info:
        registry.lookup("c")
    assert str(info.value) == "widget: unknown widget 'c'; known: a, b"
    with pytest.raises(ConfigError, match="non-empty string"):
        registry.register("", 3)
    registry.unregister("a")
    assert list(registry) == ["b"]
