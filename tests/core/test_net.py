"""One loopback rule: the status server, the storage service and the configuration file accept
and refuse the same hosts."""

from __future__ import annotations

import pytest

from collectorkit import ConfigError
from collectorkit._net import check_bind, is_loopback
from collectorkit.config import load_config
from collectorkit.daemon._status import StatusSettings
from collectorkit.service import check_bind as check_service_bind

LOOPBACK = ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "ip6-localhost"]
OPEN = ["0.0.0.0", "::", "10.0.0.7", "example.com", "localhost.example.com"]  # noqa: S104


def _config(host: str, token: str | None) -> dict[str, object]:
    source = {"name": "a", "base_url": "https://api.example.test", "request": {"endpoint": "/x"}}
    return {"sources": [source], "status": {"host": host, "token": token}}


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_needs_no_token_anywhere(host: str) -> None:
    assert is_loopback(host)
    StatusSettings(host=host, port=0)
    check_service_bind(host, None)
    load_config(_config(host, None), env={})


@pytest.mark.parametrize("host", OPEN)
def test_anything_else_needs_a_token_everywhere(host: str) -> None:
    assert not is_loopback(host)
    refusal = f"refusing to listen on {host!r} without a bearer token"
    with pytest.raises(ConfigError, match=refusal):
        StatusSettings(host=host, port=0)
    with pytest.raises(ConfigError, match=refusal):
        check_service_bind(host, None)
    with pytest.raises(ConfigError, match=refusal):
        load_config(_config(host, None), env={})
    StatusSettings(host=host, port=0, token="tok-1234567890-abcdef")
    check_service_bind(host, "tok-1234567890-abcdef")
    load_config(_config(host, "tok-1234567890-abcdef"), env={})


def test_the_error_names_the_setting_and_how_to_fix_it() -> None:
    with pytest.raises(ConfigError) as info:
        check_bind("0.0.0.0", None, hint="set status.token", path="status.token")  # noqa: S104
    assert info.value.path == "status.token"
    assert str(info.value).endswith("(it is not loopback): set status.token")
