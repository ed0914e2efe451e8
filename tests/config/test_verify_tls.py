"""``verify_tls: false`` on a source without TLS is a mistake to point out, not to ignore."""

from __future__ import annotations

from typing import Any

import pytest

from collectorkit import ConfigError
from collectorkit.config._load import load_config


def _config(base_url: str, **source: Any) -> dict[str, Any]:
    return {
        "sources": [
            {"name": "alerts", "base_url": base_url, "request": {"endpoint": "/x"}, **source}
        ]
    }


@pytest.mark.parametrize("base_url", ["http://api.example.test", "ws://api.example.test/feed"])
def test_verify_tls_false_without_tls_is_refused_naming_the_path(base_url: str) -> None:
    source: dict[str, Any] = {"verify_tls": False}
    if base_url.startswith("ws"):
        source["type"] = "websocket"
    with pytest.raises(ConfigError) as caught:
        load_config(_config(base_url, **source), env={})
    message = str(caught.value)
    assert "sources[0].verify_tls" in message
    assert "no TLS" in message


def test_verify_tls_false_with_tls_and_the_default_without_tls_load() -> None:
    insecure = load_config(_config("https://api.example.test", verify_tls=False), env={})
    assert insecure.sources[0].verify_tls is False
    plain = load_config(_config("http://127.0.0.1:8900"), env={})
    assert plain.sources[0].verify_tls is True
