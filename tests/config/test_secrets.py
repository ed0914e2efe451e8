"""No resolved secret shows in repr/str of a loaded configuration or in a validation error;
an auth kind a plug-in registers after import is read from YAML like a built-in one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectorkit.config import ConfigValidationError, build_auth, load_config
from collectorkit.http import AuthHandler, Request
from collectorkit.http._auth_kinds import AUTH_KINDS

ENV = {
    "XDR_TOKEN": "env-token-5150",
    "HEADER_KEY": "env-header-6160",
    "DB_PASSWORD": "env-dbpass-7170",
    "SINK_TOKEN": "env-sink-8180",
}
LITERAL = "literal-param-9190"


def _config_data(file_secret: Path) -> dict[str, Any]:
    return {
        "state": "postgresql://collector:${DB_PASSWORD}@127.0.0.1:5432/db?password=${DB_PASSWORD}",
        "sinks": [{"type": "jsonl", "path": "./out.jsonl"}],
        "sources": [
            {
                "name": "alerts",
                "base_url": "https://api.example.test",
                "auth": {"type": "bearer", "token": "${XDR_TOKEN}"},
                "strategy": "concurrent",
                "request": {
                    "endpoint": "/v1/alerts",
                    "state_key": "main",
                    "headers": {"X-Api-Key": "${HEADER_KEY}", "Accept": "application/json"},
                    "params": {"token": LITERAL},
                    "shards": [
                        {"state_key": "eu", "params": {"api_key": f"${{file:{file_secret}}}"}}
                    ],
                },
            },
            {
                "name": "feed",
                "type": "websocket",
                "base_url": "wss://feed.example.test",
                "request": {"endpoint": "/ws"},
                "stream": {"subscribe_message": {"action": "subscribe", "token": "${SINK_TOKEN}"}},
            },
        ],
    }


@pytest.fixture
def file_secret(tmp_path: Path) -> Path:
    path = tmp_path / "shard-key"
    path.write_text("file-secret-4140\n", encoding="utf-8")
    return path


def _secrets() -> list[str]:
    return [*ENV.values(), LITERAL, "file-secret-4140"]


def test_no_secret_in_repr_or_str_of_a_loaded_config(file_secret: Path) -> None:
    config = load_config(_config_data(file_secret), env=ENV)
    shown = [repr(config), str(config), *map(repr, config.sources), *map(str, config.sources)]
    for text in shown:
        for secret in _secrets():
            assert secret not in text
    # what is not a secret still shows: the repr stays useful
    assert "state_key='main'" in repr(config)
    assert "Shard(state_key='eu'" in repr(config)
    assert "'Accept': 'application/json'" in repr(config)
    assert "'X-Api-Key': '***'" in repr(config)
    assert "postgresql://collector:***@127.0.0.1:5432/db" in repr(config)
    # and the configuration still holds the real values
    assert config.sources[0].request.headers["X-Api-Key"] == ENV["HEADER_KEY"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        # the bad value itself is a secret
        (lambda d: d["sources"][0]["auth"].update(token=["${XDR_TOKEN}"]), "sources[0].auth.token"),
        # a URL that quotes a password in the reason
        (
            lambda d: d["sources"][0].update(base_url="ftp://u:${DB_PASSWORD}@api.example.test"),
            "sources[0].base_url",
        ),
        # a literal secret (under a secret name elsewhere in the file) quoted as a bad value
        (
            lambda d: d["sources"][0]["request"].update(
                pagination={"mode": "page", "page_size": LITERAL}
            ),
            "sources[0].request.pagination.page_size",
        ),
        # a layer's own check at build time (the sink's factory)
        (
            lambda d: d["sinks"].append(
                {"type": "webhook", "url": "https://h.test/?token=${SINK_TOKEN}", "bogus": 1}
            ),
            "sinks[1]",
        ),
    ],
)
def test_no_secret_in_a_validation_error(file_secret: Path, change: Any, path: str) -> None:
    data = _config_data(file_secret)
    change(data)
    with pytest.raises(ConfigValidationError) as caught:
        load_config(data, env=ENV)
    text = f"{caught.value}\n{caught.value.issues!r}"
    assert path in text
    for secret in _secrets():
        assert secret not in text


class _HeaderAuth(AuthHandler):
    """A plug-in's auth kind: the credential in a header of its choosing."""

    def __init__(self, *, secret: str, header: str = "X-Plugin") -> None:
        self.secret = secret
        self.header = header

    def on_request(self, request: Request) -> None:
        request.headers[self.header] = self.secret


@pytest.fixture
def plugin_kind() -> Iterator[str]:
    load_config(
        {"sources": [{"name": "a", "base_url": "https://a.test", "request": {"endpoint": "/"}}]},
        env={},
    )
    AUTH_KINDS.register("plugin_header", _HeaderAuth)  # after the models were built and used
    yield "plugin_header"
    AUTH_KINDS.unregister("plugin_header")


def _with_auth(auth: dict[str, Any]) -> dict[str, Any]:
    return {
        "sources": [
            {"name": "a", "base_url": "https://a.test", "auth": auth, "request": {"endpoint": "/"}}
        ]
    }


def test_an_auth_kind_registered_after_import_is_read_from_yaml(plugin_kind: str) -> None:
    config = load_config(
        _with_auth({"type": plugin_kind, "secret": "${TOKEN}", "header": "X-T"}),
        env={"TOKEN": "plug-secret-3130"},
    )
    handler = build_auth(config.sources[0].auth)
    assert isinstance(handler, _HeaderAuth)
    assert (handler.secret, handler.header) == ("plug-secret-3130", "X-T")
    assert "plug-secret-3130" not in repr(config)
    assert "plug-secret-3130" in config.secret_values()  # its credential is a secret by name
    assert config.to_dict()["sources"][0]["auth"] == {
        "type": plugin_kind,
        "secret": "***",
        "header": "X-T",
    }


def test_a_plugin_kind_options_are_checked_at_their_yaml_path(plugin_kind: str) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        load_config(_with_auth({"type": plugin_kind, "secret": "s-1234", "hedaer": "X"}), env={})
    (issue,) = caught.value.issues
    assert issue[0] == "sources[0].auth.hedaer"
    assert "did you mean 'header'" in issue[1]


def test_an_unregistered_kind_is_still_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        load_config(_with_auth({"type": "plugin_header", "secret": "s-1234"}), env={})
    assert "unknown auth kind 'plugin_header'" in str(caught.value)
