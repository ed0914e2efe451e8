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

import httpx2
import pytest

from collectorkit.simulator import build_config
from tests.evidence._daemon import start_daemon, status_url, stop_daemon
from tests.evidence._support import generic_source, timed_simulator, write_config

pytestmark = pytest.mark.slow

BASIC_PASSWORD = "evidence-basic-Pa55word-7f3e"
QUERY_KEY = "evidence-query-key-91c2d0"


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
            time.sleep(2.5)
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
