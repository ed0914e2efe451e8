"""One secret-name rule: what the logs mask is what the configuration loader treats as a secret;
one URL redactor for every URL form."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from collectorkit._redact import is_secret_name, redact, redact_url, url_secrets
from collectorkit.config import load_config
from collectorkit.config._issues import ConfigValidationError
from collectorkit.http import get_logger, is_sensitive_name
from collectorkit.state._values import redact_url as state_redact_url

SECRET_NAMES = [
    "session_id",
    "X-Session-Id",
    "signature",
    "jwt",
    "api_key",
    "X-Auth-Token",
    "key",
    "private_key",
    "secret_key",
    "access_key",
    "X-Api-Key",
    "apikey",
    "secret_state_key",  # a secret word besides the identifier's "key"
]
PLAIN_NAMES = [
    "key_fields",
    "key_id",
    "token_url",
    "id_field",
    "page",
    "severity",
    "state_key",
    "stateKey",
    "partition_key",
    "X-Idempotency-Key",
    "routingKey",
]
VALUE = "s3cr3t-value-4242"


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_are_masked_in_logs(name: str) -> None:
    assert is_secret_name(name)
    assert is_sensitive_name(name)
    with capture_logs() as logs:
        get_logger("test").info("sent", **{name: VALUE}, params={name: VALUE})
    assert VALUE not in repr(logs)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_settings_about_credentials_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)
    assert redact({name: "shown"}) == {name: "shown"}


def _with_headers(headers: dict[str, Any]) -> dict[str, Any]:
    source = {"name": "a", "base_url": "https://api.example.test", "request": {"endpoint": "/x"}}
    source["request"]["headers"] = headers  # type: ignore[index]
    return {"sources": [source]}


@pytest.mark.parametrize("name", ["session_id", "Signature", "jwt"])
def test_config_loader_treats_the_same_names_as_secrets(name: str) -> None:
    config = load_config(_with_headers({name: VALUE}), env={})
    assert VALUE in config.secret_values()
    assert VALUE not in str(config.to_dict())
    with pytest.raises(ConfigValidationError) as info:
        load_config(_with_headers({name: VALUE, "bogus": ["not", "a", "string"]}), env={})
    assert VALUE not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u@h:1/db?password=hunter2pw", "postgresql://u@h:1/db?password=***"),
        ("postgresql://u:hunter2pw@h:1/db", "postgresql://u:***@h:1/db"),
        ("http://h:1/?token=hunter2pw&page=2", "http://h:1/?token=***&page=2"),
        ("redis://:hunter2pw@h:1/0", "redis://:***@h:1/0"),
        ("https://h/x?session_id=hunter2pw#jwt=hunter2pw", "https://h/x?session_id=***#jwt=***"),
        # a libpq connection string (the postgres sink's url accepts one)
        ("host=h port=1 password=hunter2pw dbname=db", "host=h port=1 password=*** dbname=db"),
        ("host=h password = 'hunter 2pw' user=u", "host=h password = *** user=u"),
    ],
)
def test_every_url_form_is_redacted_by_the_one_redactor(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert state_redact_url is redact_url
    assert redact(f"cannot reach {url!r}") == f"cannot reach {shown!r}".replace(
        repr(shown),
        repr(shown) if "'" not in url else f'"{shown}"',  # repr's choice of quotes
    )


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("postgresql://u@h:1/db?password=hunter2pw", ["hunter2pw"]),
        ("postgresql://u:hunter%2Fpw@h:1/db", ["hunter%2Fpw", "hunter/pw"]),
        ("http://h:1/?token=hunter2pw&page=2", ["hunter2pw"]),
        ("redis://:hunter2pw@h:1/0", ["hunter2pw"]),
        ("sqlite:///./collectorkit.db", []),
    ],
)
def test_state_url_secrets_are_config_secrets(url: str, secrets: list[str]) -> None:
    assert url_secrets(url) == secrets
    source = {"name": "a", "base_url": "https://api.example.test", "request": {"endpoint": "/x"}}
    config = load_config({"state": url, "sources": [source]}, env={})
    assert set(secrets) <= set(config.secret_values())
    assert not any(s in str(config.to_dict()) for s in secrets)


@pytest.mark.parametrize(
    ("dsn", "secrets"),
    [
        ("host=h user=u password=hunter2pw dbname=db", ["hunter2pw"]),
        ("host=h password='hunter 2pw'", ["'hunter 2pw'", "hunter 2pw"]),
    ],
)
def test_a_libpq_connection_string_s_password_is_a_config_secret(
    dsn: str, secrets: list[str]
) -> None:
    """The postgres sink's ``url`` may be a libpq ``key=value`` string: its password is
    registered and masked like a URL's (it was shown by ``to_dict`` before)."""
    assert url_secrets(dsn) == secrets
    source = {"name": "a", "base_url": "https://api.example.test", "request": {"endpoint": "/x"}}
    sink = {"type": "postgres", "url": dsn}
    config = load_config({"sinks": [sink], "sources": [source]}, env={})
    assert set(secrets) <= set(config.secret_values())
    assert not any(s in str(config.to_dict()) for s in secrets)
    with pytest.raises(ConfigValidationError) as refused:  # not a state URL: no password shown
        load_config({"state": dsn, "sources": [source]}, env={})
    assert not any(s in str(refused.value) for s in secrets)


def test_config_to_dict_shows_state_keys_and_masks_keys() -> None:
    source = {
        "name": "a",
        "base_url": "https://api.example.test",
        "strategy": "concurrent",
        "request": {
            "endpoint": "/x",
            "state_key": "main",
            "headers": {"X-Api-Key": VALUE},
            "shards": [{"state_key": "eu", "params": {"region": "eu"}}],
        },
        "auth": {"type": "api_key", "key": "k-" + VALUE},
    }
    dumped = load_config({"sources": [source]}, env={}).to_dict()
    request = dumped["sources"][0]["request"]
    assert request["state_key"] == "main"
    assert request["shards"][0]["state_key"] == "eu"
    assert VALUE not in str(dumped)
    assert request["headers"]["X-Api-Key"] == "***"
