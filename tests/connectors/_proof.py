"""Sources of a few lines naming a connector, run the way ``collectorkit once`` runs them,
against the connector's simulator profile, into one SQLite file."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from collectorkit.cli._once import OnceResult, run_once
from collectorkit.config import load_config
from collectorkit.simulator import SimulatorServer

__all__ = [
    "CONNECTORS",
    "ID_FIELDS",
    "PROFILES",
    "SMALL_PAGES",
    "config_for",
    "once",
    "source_for",
    "stored",
]

PROFILES = {
    "cortex_xdr": "xdr",
    "okta": "okta",
    "github_audit": "github",
    "msgraph_security_alerts": "graph",
    "crowdstrike_alerts": "crowdstrike",
    "otx_pulses": "otx",
    "slack_audit": "slack",
    "onepassword_events": "onepassword",
}
"""Connector → the simulator profile that imitates its API."""
CONNECTORS = sorted(PROFILES)
ID_FIELDS = {
    "xdr": "alert_id",
    "okta": "uuid",
    "github": "_document_id",
    "graph": "id",
    "crowdstrike": "composite_id",
    "otx": "id",
    "slack": "id",
    "onepassword": "uuid",
}
"""Simulator profile → the field its ledger counts records by."""
SMALL_PAGES = {
    "okta": 50,
    "crowdstrike_alerts": 50,
    "onepassword_events": 50,
    "slack_audit": 50,
    "otx_pulses": 50,
}


def source_for(connector: str, sim: SimulatorServer) -> dict[str, Any]:
    """The whole source a user writes: name, connector, base_url, credentials (+ options)."""
    profile = PROFILES[connector]
    creds = sim.credentials(profile)
    url = sim.url(profile)
    auth: dict[str, Any]
    options: dict[str, Any] = {}
    if connector == "cortex_xdr":
        auth, options = (
            {"type": "api_key", "key": creds["api_key"]},
            {"key_id": creds["api_key_id"]},
        )
    elif connector == "okta":
        auth = {
            "type": "oauth2",
            "client_id": creds["client_id"],
            "private_key": creds["private_key"],
        }
    elif connector == "msgraph_security_alerts":
        auth = {
            "type": "oauth2",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        }
        options = {"tenant": creds["tenant"], "login_url": url}
    elif connector == "crowdstrike_alerts":
        auth = {
            "type": "oauth2",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        }
    elif connector == "otx_pulses":
        auth = {"type": "api_key", "key": creds["api_key"]}
    elif connector == "github_audit":
        auth, options = {"type": "bearer", "token": creds["token"]}, {"org": creds["org"]}
    else:
        auth = {"type": "bearer", "token": creds["token"]}
    if connector in SMALL_PAGES:  # many pages, so that the faults land mid-walk
        options["page_size"] = SMALL_PAGES[connector]
    source = {"name": connector, "connector": connector, "base_url": url, "auth": auth}
    return source | ({"options": options} if options else {})


def config_for(tmp: Path, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Records and state in ``tmp/ck.db``; retries without long waits (faults are many)."""
    db = tmp / "ck.db"
    return {
        "state": f"sqlite:///{db}",
        "sinks": [{"type": "sqlite", "path": str(db)}],
        "status": {"enabled": False},
        "defaults": {"retry": {"max_attempts": 12, "initial_delay": 0.01, "max_delay": 0.05}},
        "sources": sources,
    }


async def once(config: dict[str, Any]) -> dict[str, OnceResult]:
    results = await run_once(load_config(config))
    return {r.stats.name: r for r in results}


def stored(db: Path, source: str, id_field: str) -> list[str]:
    """The vendor id of every record stored for ``source``, read from the SQLite file."""
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT data FROM events WHERE source = ?", (source,)).fetchall()
    return [str(json.loads(data)[id_field]) for (data,) in rows]
