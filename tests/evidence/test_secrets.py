"""Secrets never leak: the daemon and ``collectorkit once`` run at debug level (request and
response diagnostics on) with every auth kind — bearer, API key in a header, API key in the
query string, basic, OAuth2 client credentials with a token expiring mid-run — some of them
refused by the API so that error paths run too. Every log line, the error output, the status
JSON, the Prometheus metrics and the dashboard are scanned for every credential: the configured
ones, and every ``Authorization``/``X-API-Key`` value the simulator actually received (issued
OAuth access tokens included). Zero hits."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx2
import pytest

from collectorkit.simulator import build_config
from tests.evidence._daemon import start_daemon, status_url, stop_daemon
from tests.evidence._support import generic_source, timed_simulator, write_config

pytestmark = pytest.mark.slow

BASIC_PASSWORD = "evidence-basic-Pa55word-7f3e"
QUERY_KEY = "evidence-query-key-91c2d0"


def _wait_for_a_run_of_each_source(url: str, timeout: float = 30.0) -> None:
    """Until /status shows every source has finished a run (with its auth flows, retries and
    debug logs), so the pages read next show a daemon that has done real work."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sources = httpx2.get(url + "/status").json()["sources"]
        if sources and all(s["runs"] >= 1 for s in sources):
            return
        time.sleep(0.1)
    raise AssertionError(f"not every source ran within {timeout} s: {sources}")


def _sources(sim: Any) -> list[dict[str, Any]]:
    graph = sim.credentials("graph")
    with_retry = {"retry": {"max_attempts": 2, "initial_delay": 0.01}}
    return [
        generic_source("bearer", sim.url("generic"), token="${EV_BEARER}", interval="0.5s"),
        {
            **generic_source("header_key", sim.url("generic"), interval="0.5s"),
            "auth": {"type": "api_key", "key": "${EV_BEARER}", "header_name": "X-API-Key"},
        },
        {  # refused by the API (it wants a header): the error path must not show the URL's key
            **generic_source("query_key", sim.url("generic"), interval="0.5s"),
            "auth": {"type": "api_key", "key": QUERY_KEY, "query_param": "api_key"},
            **with_retry,
        },
        {  # refused too: 401 with a Basic header
            **generic_source("basic", sim.url("generic"), interval="0.5s"),
            "auth": {"type": "basic", "username": "evidence-user", "password": "${EV_BASIC}"},
            **with_retry,
        },
        {
            "name": "oauth",
            "base_url": sim.url("graph"),
            "interval": "0.5s",
            "auth": {
                "type": "oauth2",
                "token_url": graph["token_url"],
                "client_id": graph["client_id"],
                "client_secret": "${EV_GRAPH_SECRET}",
                "scope": graph["scope"],
                "auth_method": "client_secret_post",
            },
            "request": {
                "endpoint": "/v1.0/security/alerts_v2",
                "params": {"$top": 20},
                "data_path": "value",
                "pagination": {"mode": "link", "link_path": '"@odata.nextLink"'},
            },
        },
    ]


def _secrets(sim: Any, seen: list[str]) -> set[str]:
    basic = base64.b64encode(f"evidence-user:{BASIC_PASSWORD}".encode()).decode()
    values = {
        sim.credentials("generic")["token"],
        sim.credentials("graph")["client_secret"],
        BASIC_PASSWORD,
        QUERY_KEY,
        basic,
    }
    for credential in seen:
        values.add(credential.split(" ", 1)[-1])  # "Bearer <token>" -> the token
    return {v for v in values if len(v) >= 8}


def _hits(secrets: set[str], texts: dict[str, str]) -> list[tuple[str, str]]:
    return [(name, s[:4] + "…") for name, text in texts.items() for s in secrets if s in text]


@pytest.mark.timeout(90)
def test_debug_runs_with_every_auth_kind_leak_no_secret(tmp_path: Path) -> None:
    faults = [{"kind": "token_expiry", "target": "graph", "requests": "2"}]
    cfg = build_config(seed=13, profiles=["generic", "graph"], records=120, faults=faults)
    with timed_simulator(cfg) as (sim, log):
        db = tmp_path / "ck.db"
        config = {
            "state": f"sqlite:///{db}",
            "log_level": "debug",
            "sinks": [{"type": "sqlite", "path": str(db)}],
            "status": {"host": "127.0.0.1", "port": 0},
            "sources": _sources(sim),
        }
        path = write_config(tmp_path / "collectorkit.yaml", config)
        env = {
            **os.environ,
            "EV_BEARER": sim.credentials("generic")["token"],
            "EV_BASIC": BASIC_PASSWORD,
            "EV_GRAPH_SECRET": sim.credentials("graph")["client_secret"],
            "NO_COLOR": "1",
        }
        daemon_log = tmp_path / "daemon.log"
        proc = start_daemon(path, env, daemon_log, "--debug")
        try:
            url = status_url(proc, daemon_log)
            _wait_for_a_run_of_each_source(url)
            pages = {p: httpx2.get(url + p).text for p in ("/status", "/metrics", "/", "/health")}
        finally:
            code = stop_daemon(proc)
        once = subprocess.run(
            [sys.executable, "-m", "collectorkit", "once", "--debug", str(path)],
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
            check=False,
        )
        seen = [e.credential for e in log.entries if e.credential]
    assert code == 0, daemon_log.read_text()
    texts = {
        "daemon log": daemon_log.read_text(errors="replace"),
        "once stdout": once.stdout,
        "once stderr": once.stderr,
        **{f"status server {p}": t for p, t in pages.items()},
    }
    secrets = _secrets(sim, seen)
    assert any(c.startswith("Bearer ") and len(c) > 30 for c in seen)  # an issued OAuth token
    assert any(c.startswith("Basic ") for c in seen)
    assert len(texts["daemon log"].splitlines()) > 20, "debug logging was not on"
    assert "401" in texts["daemon log"] or "unauthorized" in texts["daemon log"].lower()
    hits = _hits(secrets, texts)
    print(
        f"\n[secrets] {len(secrets)} secret values x {len(texts)} outputs "
        f"({sum(map(len, texts.values()))} chars): {len(hits)} hits"
    )
    assert hits == []


STATE_PASSWORD = "hunter2pw"
STATE_URLS = {
    "postgres ?password=": f"postgresql://u@127.0.0.1:1/db?password={STATE_PASSWORD}",
    "postgres user:password": f"postgresql://u:{STATE_PASSWORD}@127.0.0.1:1/db",
    "storage service ?token=": f"http://127.0.0.1:1/?token={STATE_PASSWORD}",
    "redis :password@": f"redis://:{STATE_PASSWORD}@127.0.0.1:1/0",
}
COMMANDS = {
    "validate": ["validate"],
    "once": ["once"],
    "once --debug": ["once", "--debug"],
    "run": ["run", "--debug"],  # exits by itself: the unreachable store refuses the start
}


def encodings(secret: str) -> set[str]:
    """``secret`` as it could show in output: plain, URL-encoded, and base64 at every alignment
    (the stable middle of the encoding, whatever bytes come before and after it)."""
    raw = secret.encode()
    found = {secret, quote(secret, safe=""), quote_plus(secret)}
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + raw).decode()
        start = -(-lead * 4 // 3)  # the characters that also carry the leading bytes
        found.add(encoded[start + 1 : len(encoded) - 4])
    return {f for f in found if len(f) >= 6}


def _leaks(outputs: dict[str, str]) -> list[str]:
    return [
        f"{name}: {form!r}"
        for name, text in outputs.items()
        for form in encodings(STATE_PASSWORD)
        if form in text
    ]


@pytest.mark.timeout(90)
def test_no_state_url_secret_reaches_any_command_output(tmp_path: Path) -> None:
    """Every state URL form with a secret, through validate / once / once --debug / run, with
    the store unreachable: the secret shows in no stdout, stderr or log line, in any encoding."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("STORAGE_SERVICE_TOKEN", None)
    runs: dict[str, subprocess.Popen[str]] = {}
    for form, url in STATE_URLS.items():
        folder = tmp_path / form.replace(" ", "_").replace(":", "").replace("?", "")
        folder.mkdir()
        config = {
            "state": url,
            "sinks": [{"type": "jsonl", "path": str(folder / "out.jsonl")}],
            "status": {"host": "127.0.0.1", "port": 0},
            "sources": [
                {"name": "s1", "base_url": "http://127.0.0.1:1", "request": {"endpoint": "/x"}}
            ],
        }
        path = write_config(folder / "collectorkit.yaml", config)
        for command, args in COMMANDS.items():
            runs[f"{form} / {command}"] = subprocess.Popen(
                [sys.executable, "-m", "collectorkit", *args, str(path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
    outputs: dict[str, str] = {}
    codes: dict[str, int] = {}
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=60)
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = out, err
        codes[name] = proc.returncode
    assert _leaks(outputs) == []
    for name, code in codes.items():  # the commands did run into the store, and said so
        if name.endswith(("/ once", "/ once --debug", "/ run")):
            assert code != 0, (name, outputs[f"{name} stderr"])
            assert "127.0.0.1:1" in outputs[f"{name} stderr"] + outputs[f"{name} stdout"]
        else:
            assert code == 0, (name, outputs[f"{name} stderr"])


def test_encodings_cover_plain_url_and_base64_forms() -> None:
    forms = encodings("pa ss/wörd")
    assert {"pa ss/wörd", "pa%20ss%2Fw%C3%B6rd", "pa+ss%2Fw%C3%B6rd"} <= forms
    for lead in ("", "x", "xy", "user:"):
        text = base64.b64encode(f"{lead}pa ss/wörd!".encode()).decode()
        assert any(form in text for form in forms), lead
