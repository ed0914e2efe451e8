"""Bad input never crashes the collector.

Configurations: a valid file with one value replaced by hypothesis-generated junk (wrong types,
huge numbers, NaN, deep nesting, odd text), a key removed or an unknown one added, loads or
fails with one :class:`ConfigError` naming the YAML path of the problem — never another
exception. Invalid UTF-8 and broken YAML files fail the same way, and ``collectorkit validate``
reports them without a traceback.

API responses: hypothesis-generated page bodies (wrong types, records that are not objects or
miss their id, huge pages, deep nesting, invalid UTF-8, truncated JSON) served to a configured
source either deliver (bad records to the dead-letter file, with the reason) or fail the run
with one of our errors; the sink and dead-letter file together account for every record.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from collectorkit._errors import CollectorError, ConfigError
from collectorkit.config import load_config
from tests.evidence._runs import once

BASE: dict[str, Any] = {
    "state": "sqlite:///./ck.db",
    "sinks": [{"type": "sqlite", "path": "./ck.db"}, {"type": "jsonl", "path": "./out.jsonl"}],
    "status": {"host": "127.0.0.1", "port": 8080},
    "defaults": {"retry": {"max_attempts": 3, "initial_delay": 0.1}},
    "sources": [
        {
            "name": "events",
            "base_url": "https://api.example.com",
            "auth": {"type": "bearer", "token": "t0ken-value"},
            "interval": "30s",
            "rate_limit": {"rate_per_second": 5, "burst": 10},
            "circuit_breaker": {"failure_threshold": 5, "recovery_timeout": "1m"},
            "timeout": {"connect": 5, "read": 30},
            "request": {
                "endpoint": "/v1/events",
                "params": {"limit": 100},
                "data_path": "data.events",
                "pagination": {
                    "mode": "cursor",
                    "cursor_param": "cursor",
                    "next_cursor_path": "meta.next_cursor",
                },
                "incremental": {"timestamp_field": "created_at", "start_param": "since"},
            },
            "pipeline": [{"dedup": {"key": "id"}}],
        }
    ],
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(BASE) if p]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "-1", "1e309", "${UNSET_EVIDENCE_VAR}", "{source}", "0s", "nan"]),
)
junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


def _set(doc: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> None:
    for key in path[:-1]:
        doc = doc[key]
    if delete:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


def _check(doc: Any, where: str) -> None:
    try:
        load_config(doc)
    except ConfigError as exc:
        message = str(exc)
        assert message.strip(), "an empty error message"
        assert "Traceback" not in message
        assert "t0ken-value" not in message, "a secret was echoed in the error"
        issues = getattr(exc, "issues", None) or [(exc.path, exc.reason)]
        assert all(path for path, _ in issues), f"an issue without a path: {message}"
        assert where.split(".")[0].split("[")[0] in message, (where, message)


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=junk, action=st.sampled_from(["set", "delete", "add"]))
def test_mutated_configs_load_or_fail_with_a_config_error_naming_the_path(
    path: tuple[Any, ...], value: Any, action: str
) -> None:
    doc = copy.deepcopy(BASE)
    if action == "delete":
        _set(doc, path, None, delete=True)
    elif action == "add":
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        if not isinstance(parent, dict):
            return
        parent["unknown_evidence_key"] = value
        path = (*path[:-1], "unknown_evidence_key")
    else:
        _set(doc, path, value)
    _check(doc, _dotted(path))


@pytest.mark.parametrize("depth", [50, 400])
def test_deeply_nested_config_values_are_refused_cleanly(depth: int) -> None:
    doc = copy.deepcopy(BASE)
    doc["sources"][0]["request"]["pagination"] = _nested(depth)
    with pytest.raises(ConfigError, match=r"sources\[0\]\.request\.pagination"):
        load_config(doc)


BAD_FILES = {
    "invalid-utf8.yaml": b"sources:\n  - name: \xff\xfe\xfa\n    base_url: http://x\n",
    "tabs.yaml": b"sources:\n\t- name: x\n",
    "not-a-mapping.yaml": b"- just\n- a list\n",
    "unclosed.yaml": b"sources: [{name: x, base_url: http://x\n",
    "empty.yaml": b"",
    "binary.yaml": bytes(range(256)),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_broken_config_files_raise_config_errors(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).strip()


def test_collectorkit_validate_reports_bad_files_without_a_traceback(tmp_path: Path) -> None:
    for name, content in BAD_FILES.items():
        (tmp_path / name).write_bytes(content)
    for name in sorted(BAD_FILES):
        done = subprocess.run(
            [sys.executable, "-m", "collectorkit", "validate", str(tmp_path / name)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
            env={**os.environ, "NO_COLOR": "1"},
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode != 0, (name, output)
        assert "Traceback" not in output, (name, output)
        assert output.strip(), name


# --- API responses -------------------------------------------------------------------------------

records = st.one_of(
    st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=12), "created_at": st.just("2026-01-01T00:00:00Z")},
        optional={"payload": junk},
    ),
    st.fixed_dictionaries({"created_at": junk}, optional={"id": junk}),  # id missing or odd
    junk,  # not an object at all
)
pages = st.one_of(
    st.builds(
        lambda rs: {"data": {"events": rs}, "meta": {"next_cursor": None}},
        st.lists(records, max_size=20),
    ),
    st.builds(lambda v: {"data": {"events": v}, "meta": {"next_cursor": None}}, junk),
    st.builds(lambda v: {"data": v}, junk),
    junk,
)
bodies = st.one_of(
    pages.map(lambda p: orjson.dumps(p, option=orjson.OPT_NON_STR_KEYS) if _dumpable(p) else b"{}"),
    st.binary(max_size=200),  # invalid UTF-8 / not JSON
    st.integers(min_value=1, max_value=2000).map(lambda d: ('{"a":' * d + "1" + "}" * d).encode()),
    st.just(b'{"data": {"events": [{"id": "x1", "created_at": "2026-01-01T00:00:00Z"'),  # truncated
    st.just(b'{"data": {"events": ["\xff\xfe"]}}'),
    st.just(b""),
)


def _dumpable(value: Any) -> bool:
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True


def _source_config(tmp: Path, url: str) -> dict[str, Any]:
    return {
        "state": f"sqlite:///{tmp / 'ck.db'}",
        "sinks": [{"type": "sqlite", "path": str(tmp / "ck.db")}],
        "dead_letter": {"type": "jsonl", "path": str(tmp / "dead.jsonl")},
        "status": {"enabled": False},
        "sources": [
            {
                "name": "fuzz",
                "base_url": url,
                "retry": {"max_attempts": 1},
                "request": {
                    "endpoint": "/v1/events",
                    "data_path": "data.events",
                    "pagination": {
                        "mode": "cursor",
                        "cursor_param": "cursor",
                        "next_cursor_path": "meta.next_cursor",
                    },
                },
                "pipeline": [{"validate": {"required": ["id"]}}],
            }
        ],
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=bodies,
    content_type=st.sampled_from(["application/json", "text/html", "application/octet-stream"]),
)
async def test_hostile_pages_are_delivered_dead_lettered_or_refused_cleanly(
    body: bytes, content_type: str, httpserver: HTTPServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    httpserver.clear()
    httpserver.expect_request("/v1/events").respond_with_data(body, content_type=content_type)
    results = await once(_source_config(tmp, httpserver.url_for("/").rstrip("/")))
    result = results["fuzz"]
    if result.error is not None:
        assert isinstance(result.error, CollectorError), repr(result.error)
        assert str(result.error).strip()
        return
    import sqlite3

    with sqlite3.connect(tmp / "ck.db") as db:
        stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
    dead_file = tmp / "dead.jsonl"
    dead = dead_file.read_bytes().splitlines() if dead_file.exists() else []
    for line in dead:
        assert orjson.loads(line)["data"]["reason"]
    assert stored <= result.stats.records  # records with the same key are stored once
    page = orjson.loads(body)
    data = page.get("data") if isinstance(page, dict) else None
    sent = data.get("events") if isinstance(data, dict) else None
    if isinstance(sent, list):  # every record is delivered or dead-lettered with its reason
        option = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        distinct = len({orjson.dumps(r, option=option) for r in sent})
        # identical rejected payloads share one dead-letter key, so they are kept once
        assert distinct <= result.stats.records + len(dead) <= len(sent), (result.stats, dead)


async def test_a_huge_page_is_delivered_whole(httpserver: HTTPServer, tmp_path: Path) -> None:
    events = [
        {"id": f"e{i}", "created_at": "2026-01-01T00:00:00Z", "pad": "x" * 200}
        for i in range(20_000)
    ]
    body = orjson.dumps({"data": {"events": events}, "meta": {"next_cursor": None}})
    httpserver.expect_request("/v1/events").respond_with_data(body, content_type="application/json")
    results = await once(_source_config(tmp_path, httpserver.url_for("/").rstrip("/")))
    assert results["fuzz"].ok, results["fuzz"].error
    assert results["fuzz"].stats.records == 20_000
