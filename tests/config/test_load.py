"""Configuration loading: good files load, every broken file gets one exact message per problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectorkit import ConfigError
from collectorkit.config._issues import ConfigValidationError
from collectorkit.config._load import load_config, parse_config_text
from collectorkit.config._types import format_duration, parse_duration

DESIGN_EXAMPLE = """\
state: sqlite:///./collectorkit.db          # or postgresql://…, redis://…, http(s)://storage:8000
sinks:
  - {type: sqlite, path: ./collectorkit.db}
  - {type: jsonl, path: ./out/{source}/{date}.jsonl}
sources:
  - name: xdr_alerts
    base_url: ${XDR_BASE_URL}
    auth: {type: bearer, token: ${XDR_AUTH_TOKEN}}
    interval: 30s
    request:
      endpoint: /v1/alerts
      data_path: data.alerts
      pagination: {mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}
      incremental: {timestamp_field: created_at, start_param: since, initial_lookback: 7d}
    retry: {max_attempts: 5, initial_delay: 1}
    rate_limit: {rate_per_second: 5, burst: 10}
    pipeline:
      - dedup: {key: id}
"""
ENV = {"XDR_BASE_URL": "https://api.example.test", "XDR_AUTH_TOKEN": "tok-3f9a7c11"}


def good() -> dict[str, Any]:
    return {
        "sources": [
            {
                "name": "alerts",
                "base_url": "https://api.example.test",
                "request": {"endpoint": "/v1/alerts"},
            }
        ]
    }


def test_the_design_example_loads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "collectorkit.yaml"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    config = load_config(path, env=ENV)
    source = config.source("xdr_alerts")
    assert source.base_url == "https://api.example.test"
    assert source.auth.type == "bearer"
    assert source.auth.token.get_secret_value() == "tok-3f9a7c11"
    assert source.interval == 30.0
    assert source.request.pagination.mode == "cursor"
    assert source.request.incremental is not None
    assert source.request.incremental.initial_lookback == 7 * 86400
    assert source.retry.max_attempts == 5
    assert source.rate_limit is not None
    assert source.rate_limit.burst == 10
    assert [(s.name, s.options) for s in source.pipeline] == [("dedup", {"key": "id"})]
    assert config.sinks[1].options == {"path": "./out/{source}/{date}.jsonl"}


def test_secrets_stay_out_of_repr_and_dump() -> None:
    config = load_config(parse_config_text(DESIGN_EXAMPLE), env=ENV)
    assert "tok-3f9a7c11" not in repr(config)
    assert "tok-3f9a7c11" not in str(config.to_dict())
    assert "tok-3f9a7c11" in str(config.to_dict(reveal_secrets=True))
    assert "tok-3f9a7c11" in config.secret_values()


def test_resolved_secrets_are_masked_in_logs() -> None:
    import collectorkit.http

    redact_text = getattr(collectorkit.http, "redact_text", None)
    if redact_text is None:  # until the http layer re-exports it
        from collectorkit.http._redact import redact_text

    load_config(parse_config_text(DESIGN_EXAMPLE), env={**ENV, "XDR_AUTH_TOKEN": "zz-91bd-77"})
    assert redact_text("sent zz-91bd-77 upstream") == "sent *** upstream"


def test_passwords_in_urls_and_secret_headers_are_secrets() -> None:
    data = good()
    data["state"] = "postgresql://u:pg-pass-1@db/x"
    data["sinks"] = [{"type": "postgres", "url": "postgresql://u:pg-pass-2@db/x"}]
    data["sources"][0]["request"]["headers"] = {"X-Api-Key": "hk-1234", "Accept": "json"}
    config = load_config(data, env={})
    assert sorted(config.secret_values()) == ["hk-1234", "pg-pass-1", "pg-pass-2"]


def test_round_trip_gives_an_equal_config() -> None:
    config = load_config(parse_config_text(DESIGN_EXAMPLE), env=ENV)
    again = load_config(config.to_dict(reveal_secrets=True), env={})
    assert again == config
    assert again.to_dict(reveal_secrets=True) == config.to_dict(reveal_secrets=True)


def test_defaults_fill_what_a_source_leaves_unset() -> None:
    data = good()
    data["defaults"] = {"retry": {"max_attempts": 9, "initial_delay": "2s"}, "interval": "5m"}
    data["sources"].append(
        {**data["sources"][0], "name": "b", "retry": {"max_attempts": 2}, "interval": 10}
    )
    first, second = load_config(data, env={}).sources
    assert (first.retry.max_attempts, first.retry.initial_delay, first.interval) == (9, 2.0, 300.0)
    # mappings merge key by key: the source's own max_attempts, the default initial_delay
    assert (second.retry.max_attempts, second.retry.initial_delay) == (2, 2.0)
    assert second.interval == 10.0


def test_env_references() -> None:
    data = good()
    src = data["sources"][0]
    src["base_url"] = "${HOST:-https://fallback.test}"
    src["auth"] = {"type": "basic", "username": "u-${USER_SUFFIX}", "password": "${PASS}"}
    src["request"]["params"] = {"literal": "$${NOT_A_REF}"}
    config = load_config(data, env={"USER_SUFFIX": "7", "PASS": "pw-1234"})
    source = config.sources[0]
    assert source.base_url == "https://fallback.test"
    assert source.auth.type == "basic"
    assert source.auth.username == "u-7"
    assert source.auth.password.get_secret_value() == "pw-1234"
    assert source.request.params == {"literal": "${NOT_A_REF}"}


def test_only_credentials_from_references_are_registered() -> None:
    from collectorkit.config._refs import resolve_references

    data = {
        "auth": {"token": "${T}", "token_url": "${U}", "key_id": "${I}"},
        "key_fields": ["${F}"],
        "headers": {"Authorization": "Bearer ${T}", "Accept": "${A}"},
    }
    env = {"T": "tok-1", "U": "https://idp/token", "I": "1234", "F": "alert_id", "A": "json"}
    resolved, issues, secrets = resolve_references(data, env)
    assert issues == []
    assert resolved["headers"]["Authorization"] == "Bearer tok-1"
    assert secrets == ["tok-1", "tok-1"]


def test_file_references(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-file-5511\n", encoding="utf-8")
    data = good()
    data["sources"][0]["auth"] = {"type": "bearer", "token": f"${{file:{secret}}}"}
    config = load_config(data, env={})
    assert config.sources[0].auth.token.get_secret_value() == "from-file-5511"  # type: ignore[union-attr]


def _broken(change: Any) -> dict[str, Any]:
    data = good()
    change(data, data["sources"][0])
    return data


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any], source: dict[str, Any]) -> None:
        target = data if path.startswith("/") else source
        *parents, leaf = path.strip("/").split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value

    return change


BROKEN: list[tuple[str, Any, str]] = [
    (
        "pagination mode",
        _set("request.pagination", {"mode": "curser"}),
        "sources[0].request.pagination.mode: unknown pagination mode 'curser' "
        "(did you mean 'cursor'?); known: cursor, link, none, offset, page",
    ),
    (
        "pagination mode missing",
        _set("request.pagination", {"cursor_param": "c"}),
        "sources[0].request.pagination.mode: is missing (one of cursor, link, none, offset, page)",
    ),
    (
        "option of another pagination mode",
        _set("request.pagination", {"mode": "page", "cursor_param": "c"}),
        "sources[0].request.pagination.cursor_param: unknown setting (allowed: mode, "
        "has_more_path, page_param, start_page, total_pages_path, page_size_param, page_size, "
        "param_location, stop_on_empty_page, stop_on_short_page, max_pages, max_page)",
    ),
    (
        "cursor without its path",
        _set("request.pagination", {"mode": "cursor"}),
        "sources[0].request.pagination.next_cursor_path: cursor mode needs next_cursor_path "
        "(where the next cursor is in the response body) or next_cursor_header",
    ),
    (
        "auth type",
        _set("auth", {"type": "tokn", "token": "x"}),
        "sources[0].auth.type: unknown auth kind 'tokn'; known: "
        "api_key, basic, bearer, custom, none, oauth2",
    ),
    (
        "bearer without token",
        _set("auth", {"type": "bearer"}),
        "sources[0].auth.token: is missing (required)",
    ),
    (
        "misspelt setting",
        _set("reqest", {}),
        "sources[0].reqest: unknown setting; did you mean 'request'? (allowed: name, type, "
        "base_url, auth, enabled, dev_mode, interval, cron, jitter, request, stream, retry, "
        "rate_limit, circuit_breaker, timeout, key_fields, limit, pass_through, strategy, "
        "concurrency, verify_tls, allowed_hosts, pipeline, callbacks, processed_ids, connector, "
        "options, hooks)",
    ),
    (
        "interval words",
        _set("interval", "5 minutes"),
        "sources[0].interval: '5 minutes' is not a duration "
        "(use a number of seconds or e.g. 500ms, 30s, 5m, 1h30m, 7d)",
    ),
    ("interval zero", _set("interval", 0), "sources[0].interval: 0.0 must be > 0 seconds"),
    (
        "negative jitter",
        _set("jitter", -1),
        "sources[0].jitter: -1 is negative; a duration must be >= 0",
    ),
    (
        "interval and cron",
        lambda data, source: source.update(interval="1m", cron="*/5 * * * *"),
        "sources[0]: set either interval or cron, not both",
    ),
    (
        "bad cron",
        _set("cron", "every day"),
        "sources[0].cron: 'every day' is not a valid cron expression (five fields: minute hour "
        "day month weekday, e.g. '*/5 * * * *')",
    ),
    (
        "retry attempts",
        _set("retry", {"max_attempts": 0}),
        "sources[0].retry.max_attempts: must be an integer >= 1, got 0",
    ),
    (
        "retry attempts not a number",
        _set("retry", {"max_attempts": "many"}),
        "sources[0].retry.max_attempts: 'many' is not an integer",
    ),
    (
        "rate without rate",
        _set("rate_limit", {"burst": 3}),
        "sources[0].rate_limit.rate_per_second: is missing (required)",
    ),
    (
        "timeout",
        _set("timeout", "soon"),
        "sources[0].timeout: 'soon' is not a duration "
        "(use a number of seconds or e.g. 500ms, 30s, 5m, 1h30m, 7d)",
    ),
    (
        "method",
        _set("request.method", "fetch"),
        "sources[0].request.method: expected one of GET, POST, PUT, PATCH, DELETE, got 'fetch'",
    ),
    (
        "enabled",
        _set("enabled", "maybe"),
        "sources[0].enabled: 'maybe' is not a boolean (true or false)",
    ),
    (
        "base url",
        _set("base_url", "api.example.test"),
        "sources[0].base_url: 'api.example.test' is not an http(s):// or ws(s):// URL",
    ),
    (
        "source name",
        _set("name", "my alerts"),
        "sources[0].name: 'my alerts' does not match ^[A-Za-z0-9_.-]+$",
    ),
    (
        "union of types",
        _set("callbacks", [5]),
        "sources[0].callbacks[0]: 5 is not a string or a mapping",
    ),
    (
        "list where a mapping belongs",
        _set("request.params", ["a", "b"]),
        "sources[0].request.params: must be a mapping, not a list",
    ),
    (
        "pipeline step of the wrong shape",
        _set("pipeline", [5]),
        "sources[0].pipeline[0]: 5 is not a processor name or {name: {options}}",
    ),
    (
        "unknown processor",
        _set("pipeline", [{"dedupe": {"key": "id"}}]),
        "sources[0].pipeline[0]: unknown processor 'dedupe' (did you mean 'dedup'?); "
        "known: {processors}",
    ),
    (
        "stream settings on an http source",
        _set("stream", {"batch_size": 5}),
        "sources[0]: stream settings apply to sse, websocket and long_poll sources",
    ),
    (
        "websocket source with an http url",
        _set("type", "websocket"),
        "sources[0]: a websocket source needs a ws:// or wss:// base_url",
    ),
    (
        "concurrent without shards",
        _set("strategy", "concurrent"),
        "sources[0]: strategy 'concurrent' needs request.shards",
    ),
    (
        "unknown sink",
        _set("/sinks", [{"type": "sqlit"}]),
        "sinks[0].type: unknown sink type 'sqlit' (did you mean 'sqlite'?); known: {sinks}",
    ),
    ("sink without type", _set("/sinks", [{"path": "x"}]), "sinks[0].type: is missing (required)"),
    (
        "dead letter sink type",
        _set("/dead_letter", {"type": "jsnl"}),
        "dead_letter.type: unknown sink type 'jsnl' (did you mean 'jsonl'?); known: {sinks}",
    ),
    (
        "state url",
        _set("/state", "mysql://db"),
        "state: unknown state store URL scheme 'mysql'; known: {schemes}",
    ),
    (
        "status off loopback without token",
        _set("/status", {"host": "0.0.0.0"}),  # noqa: S104 - a config value, nothing binds
        "status: refusing to listen on '0.0.0.0' without a bearer token (it is not loopback): "
        "set status.token (e.g. token: ${STATUS_TOKEN}), or bind to 127.0.0.1",
    ),
    ("status port", _set("/status", {"port": 70000}), "status.port: 70000 must be <= 65535"),
    ("no sources", _set("/sources", []), "sources: needs at least one entry"),
    (
        "duplicate names",
        lambda data, source: data["sources"].append(copy.deepcopy(source)),
        "sources: source name 'alerts' is used twice; names must be unique",
    ),
    (
        "missing env var",
        _set("base_url", "${NOPE_BASE_URL}"),
        "sources[0].base_url: environment variable NOPE_BASE_URL is not set "
        "(use ${NOPE_BASE_URL:-default} for a default)",
    ),
    (
        "missing secret file",
        _set("auth", {"type": "bearer", "token": "${file:/nonexistent/token}"}),
        "sources[0].auth.token: cannot read secret file /nonexistent/token: "
        "No such file or directory",
    ),
    (
        "top level typo",
        _set("/sink", []),
        "sink: unknown setting; did you mean 'sinks'? (allowed: version, state, coordination, "
        "fleet, log_level, shutdown_grace, sinks, dead_letter, callback_retry, sources, status, "
        "defaults, connectors_dir)",
    ),
    (
        "defaults are checked where they are written",
        _set("/defaults", {"retry": {"max_attempts": -2}}),
        "defaults.retry.max_attempts: must be an integer >= 1, got -2",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_config_has_one_exact_message(change: Any, expected: str) -> None:
    from collectorkit.config._registry import (
        known_processor_names,
        known_sink_types,
        known_state_schemes,
    )

    expected = expected.replace("{sinks}", ", ".join(known_sink_types()))
    expected = expected.replace("{processors}", ", ".join(known_processor_names()))
    expected = expected.replace("{schemes}", ", ".join(known_state_schemes()))
    with pytest.raises(ConfigValidationError) as info:
        load_config(_broken(change), env={})
    assert str(info.value) == expected
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)
    # no chained library traceback behind our message
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_every_problem_is_reported_together() -> None:
    data = good()
    data["sources"][0]["interval"] = "x"
    data["sources"][0]["request"]["pagination"] = {"mode": "curser"}
    data["sinks"] = [{"type": "nope"}]
    with pytest.raises(ConfigValidationError) as info:
        load_config(data, env={})
    paths = [path for path, _ in info.value.issues]
    assert paths == ["sinks[0].type", "sources[0].interval", "sources[0].request.pagination.mode"]
    assert str(info.value).startswith("3 problems in <config>:\n  sinks[0].type: ")


def test_a_secret_value_never_appears_in_an_error() -> None:
    data = good()
    data["sources"][0]["auth"] = {"type": "api_key", "key": 12345678, "bogus": 1}
    data["sources"][0]["request"]["headers"] = {"X-Api-Token": ["not", "a", "string"]}
    with pytest.raises(ConfigValidationError) as info:
        load_config(data, env={})
    assert "12345678" not in str(info.value)
    assert "sources[0].auth.key: '***' is not a string" in str(info.value)


def test_processor_options_are_checked_at_load() -> None:
    data = good()
    data["sources"][0]["pipeline"] = [{"filter": "severity =="}]
    with pytest.raises(ConfigValidationError) as info:
        load_config(data, env={})
    assert info.value.issues[0][0].startswith("sources[0].pipeline[0]")


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("sources:\n  - name: a\n    request: {endpoint: /x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:4:1: invalid YAML: ")


def test_indentation_error_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "indent.yaml"
    path.write_text("sources:\n  - name: a\n   base_url: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}:3:4: invalid YAML: expected <block end>, but found '<block mapping start>' "
        "(check the indentation of this line and the one above)"
    )


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("state: memory://\nstate: sqlite:///x.db\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dup.yaml:2:1: invalid YAML: duplicate key 'state'"):
        load_config(path)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration file: No such file"):
        load_config(tmp_path / "absent.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\(top level\): the configuration must be a mapping"):
        load_config(listing)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("7d", 604800),
        ("500ms", 0.5),
        ("12", 12),
        (2.5, 2.5),
    ],
)
def test_duration_spellings(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@given(st.integers(min_value=0, max_value=10**8))
def test_format_duration_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


_PAGINATION = st.one_of(
    st.just({"mode": "none"}),
    st.builds(
        lambda path, size: {"mode": "cursor", "next_cursor_path": path, "page_size": size},
        st.sampled_from(["meta.next", "next_cursor", "links.after"]),
        st.integers(1, 500),
    ),
    st.builds(lambda start: {"mode": "page", "start_page": start}, st.integers(0, 3)),
    st.builds(
        lambda loc: {"mode": "offset", "param_location": loc, "page_size": 100},
        st.sampled_from(["query", "body"]),
    ),
    st.just({"mode": "link"}),
)
_AUTH = st.one_of(
    st.just({"type": "none"}),
    # secrets get registered with the process-wide log redactor: keep them unmistakable
    st.builds(lambda t: {"type": "bearer", "token": "hyp-secret-" + t}, st.text("abc0123")),
    st.builds(
        lambda k, q: {
            "type": "api_key",
            "key": "hyp-key-" + k,
            **({"query_param": "key"} if q else {}),
        },
        st.text("XYZ789"),
        st.booleans(),
    ),
    st.just({"type": "basic", "username": "u", "password": "pw-secret"}),
)
_DURATION = st.one_of(
    st.integers(1, 10**6).map(format_duration), st.integers(1, 10**5), st.just("1h30m")
)


@given(
    pagination=_PAGINATION,
    auth=_AUTH,
    interval=_DURATION,
    retry=st.fixed_dictionaries({}, optional={"max_attempts": st.integers(1, 9)}),
    with_rate=st.booleans(),
)
def test_any_valid_config_round_trips(
    pagination: dict[str, Any],
    auth: dict[str, Any],
    interval: Any,
    retry: dict[str, Any],
    with_rate: bool,
) -> None:
    data = good()
    source = data["sources"][0]
    source.update(auth=auth, interval=interval, retry=retry)
    source["request"]["pagination"] = pagination
    if with_rate:
        source["rate_limit"] = {"rate_per_second": 2.5}
    config = load_config(data, env={})
    assert config.sources[0].interval == parse_duration(interval)
    assert load_config(config.to_dict(reveal_secrets=True), env={}) == config
