"""Connector definitions: validated by the source model, overridable, options checked, users'
own connectors from a folder and from the entry-point group, hooks by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collectorkit import connector_blueprint
from collectorkit.config import ConfigValidationError, SourceConfig, load_config
from collectorkit.connectors import (
    HOOKS,
    Connector,
    XDRAdvancedKeyAuthHandler,
    connector_catalogue,
)
from collectorkit.simulator import SimulatorServer, build_config
from tests.connectors._proof import CONNECTORS, config_for, once, source_for, stored

EIGHT = {
    "cortex_xdr",
    "okta",
    "github_audit",
    "msgraph_security_alerts",
    "crowdstrike_alerts",
    "otx_pulses",
    "slack_audit",
    "onepassword_events",
}


def _config(source: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"sources": [source], "status": {"enabled": False}, **extra}


def test_the_eight_connectors_are_shipped_with_their_metadata() -> None:
    catalogue = connector_catalogue()
    assert set(catalogue) >= EIGHT
    assert set(CONNECTORS) == EIGHT
    for connector in catalogue.values():
        for text in (connector.vendor, connector.rate_limits):
            assert text
        for texts in (connector.auth_kinds, connector.semantics, connector.scopes):
            assert texts
        assert set(connector.auth) <= set(connector.auth_kinds)


@pytest.mark.parametrize("name", sorted(EIGHT))
def test_each_definition_and_its_example_validate_as_a_source(name: str) -> None:
    connector = connector_catalogue()[name]
    example = {"name": name, "connector": name, **connector.example}
    env = {"X": "1"}
    source = load_config(_config(example), env=env | _env_for(example)).sources[0]
    assert isinstance(source, SourceConfig)
    assert source.request.endpoint
    assert source.key_fields != ["id"] or name in {"slack_audit", "msgraph_security_alerts"}


def _env_for(value: Any) -> dict[str, str]:
    """A value for every ${VAR} of an example."""
    if isinstance(value, str) and value.startswith("${"):
        return {value[2:-1]: "secret-" + value[2:-1].lower()}
    if isinstance(value, dict):
        return {k: v for item in value.values() for k, v in _env_for(item).items()}
    return {}


def test_every_setting_of_the_connector_can_be_overridden() -> None:
    source = {
        "name": "okta_logs",
        "connector": "okta",
        "base_url": "https://example.okta.com",
        "auth": {"type": "api_key", "key": "k", "prefix": "Bearer"},
        "key_fields": ["uuid", "published"],
        "retry": {"max_attempts": 3},
        "request": {"params": {"limit": 200}, "incremental": {"overlap": "5m"}},
    }
    loaded = load_config(_config(source)).sources[0]
    assert loaded.key_fields == ["uuid", "published"]
    assert loaded.retry.max_attempts == 3
    assert loaded.request.params == {"limit": 200, "sortOrder": "ASCENDING"}
    assert loaded.request.incremental is not None
    assert loaded.request.incremental.overlap == 300
    assert loaded.request.incremental.start_param == "since"  # the rest stays the connector's
    assert loaded.auth.options["prefix"] == "Bearer"
    assert loaded.auth.options["header_name"] == "Authorization"


def test_options_are_substituted_with_their_types() -> None:
    source = {
        "name": "gh",
        "connector": "github_audit",
        "base_url": "https://api.github.com",
        "auth": {"type": "bearer", "token": "t"},
        "options": {"org": "acme", "include": "all"},
    }
    loaded = load_config(_config(source)).sources[0]
    assert loaded.request.endpoint == "/orgs/acme/audit-log"
    assert loaded.request.params["include"] == "all"
    okta = load_config(
        _config(
            {"name": "o", "connector": "okta", "base_url": "https://x", "options": {"page_size": 5}}
        )
    ).sources[0]
    assert okta.request.params["limit"] == 5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"org": "acme", "orgg": 1}, "sources[0].options.orgg: unknown option of connector"),
        ({}, "sources[0].options: 'org' is required by connector 'github_audit'"),
        ({"org": "a", "include": "some"}, "sources[0].options.include: 'some' is not one of"),
    ],
)
def test_option_mistakes_name_the_path(options: dict[str, Any], message: str) -> None:
    source = {
        "name": "gh",
        "connector": "github_audit",
        "base_url": "https://api.github.com",
        "auth": {"type": "bearer", "token": "t"},
        "options": options,
    }
    with pytest.raises(ConfigValidationError) as caught:
        load_config(_config(source))
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_unknown_connector_lists_the_known_ones() -> None:
    source = {"name": "o", "connector": "octa", "base_url": "https://x"}
    with pytest.raises(
        ConfigValidationError,
        match=r"sources\[0\]\.connector: unknown connector 'octa' \(did you mean 'okta'\?\)",
    ):
        load_config(_config(source))


def test_options_without_a_connector_are_refused() -> None:
    source = {
        "name": "s",
        "base_url": "https://x",
        "request": {"endpoint": "/e"},
        "options": {"a": 1},
    }
    with pytest.raises(
        ConfigValidationError, match=r"sources\[0\]\.options: options are a connector's"
    ):
        load_config(_config(source))


def test_a_connector_goes_under_the_files_defaults() -> None:
    """The connector's settings are the source's: the file's defaults fill only what neither
    the source nor its connector sets."""
    source = {"name": "o", "connector": "okta", "base_url": "https://x"}
    defaults = {"retry": {"max_attempts": 2}, "interval": "10m", "jitter": "3s"}
    loaded = load_config(_config(source, defaults=defaults)).sources[0]
    assert loaded.retry.max_attempts == 8  # the connector's
    assert loaded.interval == 60  # the connector's 1m
    assert loaded.jitter == 3  # the file's default


def test_expanding_twice_is_expanding_once() -> None:
    source = {
        "name": "o",
        "connector": "okta",
        "base_url": "https://x",
        "auth": {"type": "api_key", "key": "k"},
    }
    config = load_config(_config(source))
    again = load_config(config.to_dict(reveal_secrets=True))
    assert again.sources[0] == config.sources[0]


_OWN = """\
name: acme_events
vendor: Acme
auth_kinds: [bearer]
scopes: [events:read]
rate_limits: none documented
semantics: [newest last]
options:
  tenant: {required: true, description: the tenant}
source:
  key_fields: [event_id]
  request:
    endpoint: "/t/{options.tenant}/events"
    data_path: data.events
    pagination: {mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}
"""


def test_a_users_folder_of_connectors(tmp_path: Path) -> None:
    folder = tmp_path / "connectors"
    folder.mkdir()
    (folder / "acme.yaml").write_text(_OWN, encoding="utf-8")
    source = {
        "name": "a",
        "connector": "acme_events",
        "base_url": "https://acme.test",
        "options": {"tenant": "t1"},
    }
    loaded = load_config(_config(source, connectors_dir=str(folder))).sources[0]
    assert loaded.request.endpoint == "/t/t1/events"
    assert loaded.key_fields == ["event_id"]
    with pytest.raises(ConfigValidationError, match="unknown connector 'acme_events'"):
        load_config(_config(source))  # not without the folder


def test_a_broken_definition_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nvendor: X\nsurce: {}\n", encoding="utf-8")
    source = {"name": "a", "connector": "bad", "base_url": "https://acme.test"}
    with pytest.raises(ConfigValidationError, match=r"bad\.yaml: unknown keys surce"):
        load_config(_config(source, connectors_dir=str(tmp_path)))


def test_an_entry_point_connector(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A plug-in's distribution names its definition in the collectorkit.connectors group."""
    plugin = tmp_path / "plugin"
    (plugin / "acme_plugin").mkdir(parents=True)
    (tmp_path / "acme.yaml").write_text(_OWN, encoding="utf-8")
    (plugin / "acme_plugin" / "__init__.py").write_text(
        f"DEFINITION = {str(tmp_path / 'acme.yaml')!r}\n", encoding="utf-8"
    )
    dist = plugin / "acme_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[collectorkit.connectors]\nacme_events = acme_plugin:DEFINITION\n"
    )
    monkeypatch.syspath_prepend(str(plugin))
    assert "acme_events" in connector_catalogue()
    source = {
        "name": "a",
        "connector": "acme_events",
        "base_url": "https://acme.test",
        "options": {"tenant": "x"},
    }
    assert load_config(_config(source)).sources[0].request.endpoint == "/t/x/events"


def test_the_library_builds_the_same_collector_as_the_file() -> None:
    blueprint = connector_blueprint(
        "okta", base_url="https://example.okta.com", auth={"type": "api_key", "key": "k"}
    )
    assert blueprint.request.endpoint == "/api/v1/logs"
    assert blueprint.request.pagination.mode == "link"
    assert blueprint.retry_policy is not None
    assert blueprint.retry_policy.max_attempts == 8
    with pytest.raises(ConfigValidationError, match=r"options\.nope: unknown option"):
        connector_blueprint("okta", base_url="https://x", options={"nope": 1})


def test_hooks_are_named_and_checked() -> None:
    assert "xdr_advanced_key" in HOOKS
    source = {
        "name": "s",
        "base_url": "https://x",
        "request": {"endpoint": "/e"},
        "hooks": ["nope"],
    }
    with pytest.raises(ConfigValidationError, match="unknown connector hook 'nope'"):
        load_config(_config(source))


def test_connector_from_mapping_refuses_a_bad_name() -> None:
    with pytest.raises(ValueError, match="lower_snake_case"):
        Connector.from_mapping({"name": "Bad Name", "vendor": "x"})


async def test_xdr_advanced_key_signs_each_request(tmp_path: Path) -> None:
    """options.key_type: advanced — the simulator checks sha256(key + nonce + timestamp),
    the timestamp window and that no nonce is used twice."""
    async with SimulatorServer(build_config(seed=2, profiles=["xdr"], records=150)) as sim:
        source = source_for("cortex_xdr", sim)
        source["options"]["key_type"] = "advanced"
        result = (await once(config_for(tmp_path, [source])))["cortex_xdr"]
        assert result.ok, result.error
        assert len(stored(tmp_path / "ck.db", "cortex_xdr", "alert_id")) == 150
        blueprint = connector_blueprint(
            "cortex_xdr",
            base_url=sim.url("xdr"),
            auth=source["auth"],
            options=source["options"],
        )
        handler = blueprint.auth_handler
        assert isinstance(handler, XDRAdvancedKeyAuthHandler)
        assert sim.credentials("xdr")["api_key"] not in repr(handler)


def test_the_readme_okta_example_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collectorkit.simulator._vendor_okta import private_key_pem

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("    connector: okta\n", 1)[0].rsplit("```yaml\n", 1)[1]
    block += "    connector: okta\n" + readme.split("    connector: okta\n", 1)[1].split("```")[0]
    (tmp_path / "okta.pem").write_text(private_key_pem(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ck.yaml"
    path.write_text(block, encoding="utf-8")
    source = load_config(path, env={"OKTA_CLIENT_ID": "0oa-client"}).sources[0]
    assert source.auth.type == "oauth2"
    assert source.auth.options["auth_method"] == "private_key_jwt"
    assert source.auth.options["token_url"] == "https://example.okta.com/oauth2/v1/token"
    assert source.request.endpoint == "/api/v1/logs"


def test_the_json_schema_accepts_a_connector_source_and_names_its_settings() -> None:
    import jsonschema

    from collectorkit.config import config_json_schema

    schema = config_json_schema()
    source = {"name": "o", "connector": "okta", "base_url": "https://x.okta.com"}
    jsonschema.validate({"sources": [source], "connectors_dir": "./connectors"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sources": [{"name": "o", "base_url": "https://x"}]}, schema)
    properties = schema["$defs"]["SourceConfig"]["properties"]
    assert {"connector", "options", "hooks"} <= set(properties)


async def test_okta_with_an_api_token_sends_it_as_ssws(tmp_path: Path) -> None:
    async with SimulatorServer(build_config(seed=6, profiles=["okta"], records=40)) as sim:
        source = {
            "name": "okta",
            "connector": "okta",
            "base_url": sim.url("okta"),
            "auth": {"type": "api_key", "key": sim.credentials("okta")["token"]},
        }
        result = (await once(config_for(tmp_path, [source])))["okta"]
        assert result.ok, result.error
        assert len(stored(tmp_path / "ck.db", "okta", "uuid")) == 40
