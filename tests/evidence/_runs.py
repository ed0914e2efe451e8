"""Running configured sources in-process, the way ``collectorkit once`` does, into SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectorkit.cli._once import OnceResult, run_once
from collectorkit.config import load_config

__all__ = ["once", "sqlite_config"]


def sqlite_config(tmp: Path, sources: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A configuration storing records and state in one SQLite file, ``tmp/ck.db``."""
    db = tmp / "ck.db"
    return {
        "state": f"sqlite:///{db}",
        "sinks": [{"type": "sqlite", "path": str(db)}],
        "status": {"enabled": False},
        "sources": sources,
        **extra,
    }


async def once(config: dict[str, Any], source: str | None = None) -> dict[str, OnceResult]:
    """Every (or one) source run once; results by source name."""
    results = await run_once(load_config(config), source=source)
    return {r.stats.name: r for r in results}
