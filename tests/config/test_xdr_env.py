"""Seed 002: one XDR source from environment variables, with command-line flags on top."""

from __future__ import annotations

import pytest

from collectorkit.config._issues import ConfigValidationError
from collectorkit.config._xdr_env import XDR_ALERTS_ENDPOINT, config_from_env

ENV = {
    "XDR_BASE_URL": "https://api.xdr.example.com/",
    "XDR_AUTH_TOKEN": "your-auth-token",
    "XDR_POLL_INTERVAL": "30",
    "XDR_POLL_ENABLED": "true",
    "XDR_MAX_ALERTS_PER_POLL": "100",
}


def test_seed_variables_make_one_source() -> None:
    config = config_from_env(ENV)
    (source,) = config.sources
    assert source.name == "xdr_alerts"
    assert source.base_url == "https://api.xdr.example.com"
    assert source.auth.type == "api_key"
    assert source.auth.key.get_secret_value() == "your-auth-token"
    assert source.auth.header_name == "Authorization"
    assert source.interval == 30.0
    assert source.enabled is True
    assert source.limit == 100
    assert source.is_dev_mode is False
    assert source.request.endpoint == XDR_ALERTS_ENDPOINT
    assert source.request.method == "POST"
    assert config.log_level == "info"
    assert [s.type for s in config.sinks] == ["json_files"]
    assert "your-auth-token" not in repr(config)


def test_flags_override_the_variables() -> None:
    overrides = {
        "interval": 60,
        "debug": True,
        "base_url": "https://custom.xdr.api",
        "auth_token": "flag-token-5678",
    }
    config = config_from_env(ENV, overrides)
    source = config.sources[0]
    assert source.interval == 60.0
    assert source.base_url == "https://custom.xdr.api"
    assert source.auth.key.get_secret_value() == "flag-token-5678"
    assert config.log_level == "debug"


def test_unset_flags_leave_the_variables_in_charge() -> None:
    config = config_from_env(ENV, {"interval": None, "debug": False, "base_url": None})
    assert config.sources[0].interval == 30.0
    assert config.log_level == "info"


def test_dummy_token_means_development_mode() -> None:
    config = config_from_env({"XDR_AUTH_TOKEN": "dev-dummy-token", "XDR_POLL_ENABLED": "no"})
    source = config.sources[0]
    assert source.is_dev_mode
    assert source.enabled is False
    assert source.base_url.startswith("https://")


def test_key_id_header_when_given() -> None:
    config = config_from_env({**ENV, "XDR_AUTH_ID": "7"})
    auth = config.sources[0].auth
    assert (auth.key_id, auth.key_id_header) == ("7", "x-xdr-auth-id")


def test_values_from_the_environment_are_taken_literally() -> None:
    config = config_from_env({**ENV, "XDR_AUTH_TOKEN": "a${B}c"})
    assert config.sources[0].auth.key.get_secret_value() == "a${B}c"


@pytest.mark.parametrize(
    ("env", "overrides", "expected"),
    [
        (
            {},
            {},
            [
                ("XDR_AUTH_TOKEN", "is not set (use dev-dummy-token for development)"),
                ("XDR_BASE_URL", "is not set (e.g. https://api-tenant.xdr.example.com)"),
            ],
        ),
        (
            {**ENV, "XDR_POLL_INTERVAL": "soon", "XDR_POLL_ENABLED": "maybe"},
            {},
            [
                (
                    "XDR_POLL_INTERVAL",
                    "'soon' is not a duration "
                    "(use a number of seconds or e.g. 500ms, 30s, 5m, 1h30m, 7d)",
                ),
                ("XDR_POLL_ENABLED", "'maybe' is not a boolean (true or false)"),
            ],
        ),
        (
            {**ENV, "XDR_MAX_ALERTS_PER_POLL": "0"},
            {},
            [("XDR_MAX_ALERTS_PER_POLL", "'0' must be >= 1")],
        ),
        (
            {**ENV, "XDR_MAX_ALERTS_PER_POLL": "x"},
            {},
            [("XDR_MAX_ALERTS_PER_POLL", "'x' is not an integer")],
        ),
        (ENV, {"interval": -5}, [("--interval", "-5 is negative; a duration must be >= 0")]),
        (
            ENV,
            {"base_url": "xdr.example.com"},
            [("--base-url", "'xdr.example.com' is not an http(s):// or ws(s):// URL")],
        ),
        (
            {**ENV, "XDR_BASE_URL": "ftp://x"},
            {},
            [("XDR_BASE_URL", "'ftp://x' is not an http(s):// or ws(s):// URL")],
        ),
    ],
)
def test_errors_name_the_variable_or_flag(
    env: dict[str, str], overrides: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(ConfigValidationError) as info:
        config_from_env(env, overrides)
    assert info.value.issues == expected


async def test_environment_config_collects_every_alert_from_the_xdr_simulator() -> None:
    """Seed 002 end to end: variables only, against the simulator's Cortex-XDR-shaped API."""
    from collectorkit.config._build import build_source
    from collectorkit.simulator import SimulatorServer, build_config

    with SimulatorServer(build_config(seed=5, profiles=["xdr"], records=230)) as sim:
        credentials = sim.credentials("xdr")
        config = config_from_env(
            {
                "XDR_BASE_URL": sim.url("xdr"),
                "XDR_AUTH_TOKEN": credentials["api_key"],
                "XDR_AUTH_ID": credentials["api_key_id"],
                "XDR_MAX_ALERTS_PER_POLL": "1000",
            }
        )
        source = build_source(config.sources[0])
        async with source:  # type: ignore[attr-defined]
            alerts = await source.collect()
        served = sim.ledger.served_ids("xdr")
    ids = [str(alert["alert_id"]) for alert in alerts]
    assert len(ids) == len(set(ids)) == 230
    assert set(ids) == served


def test_a_refused_key_without_auth_id_is_explained() -> None:
    from collectorkit import AuthenticationError, ServiceError
    from collectorkit.config._xdr_env import explain_xdr_failure

    refused = AuthenticationError("POST … failed with status 401 after 1 attempt(s)")
    hint = explain_xdr_failure(refused, {"XDR_AUTH_TOKEN": "k"})
    assert hint is not None
    assert "XDR_AUTH_ID is not set" in hint
    with_id = explain_xdr_failure(refused, {"XDR_AUTH_TOKEN": "k", "XDR_AUTH_ID": "7"})
    assert with_id is not None
    assert "XDR_AUTH_TOKEN" in with_id
    assert "not set" not in with_id
    assert explain_xdr_failure(ServiceError("503"), {}) is None


def test_state_is_left_to_the_command_unless_collectorkit_state_is_set() -> None:
    from collectorkit.config._xdr_env import xdr_variables_set

    env = {"XDR_AUTH_TOKEN": "dev-dummy-token"}
    assert "state" not in config_from_env(env).model_fields_set
    chosen = config_from_env({**env, "COLLECTORKIT_STATE": "sqlite:///./x.db"})
    assert chosen.state == "sqlite:///./x.db"
    assert xdr_variables_set(env)
    assert not xdr_variables_set({"PATH": "/bin", "XDR_BASE_URL": ""})
