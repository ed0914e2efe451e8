"""``collectorkit connectors list|show|init``: the connector catalogue from the command line."""

from __future__ import annotations

from pathlib import Path

from collectorkit.connectors import connector_catalogue, get_connector
from collectorkit.connectors._docs import render_markdown, starter_yaml, summary_line

__all__ = ["connectors_init", "connectors_list", "connectors_show"]


def connectors_list(connectors_dir: Path | None = None) -> str:
    """One line per connector: name, vendor and API, auth kinds."""
    catalogue = connector_catalogue(connectors_dir)
    return "\n".join(summary_line(catalogue[name]) for name in sorted(catalogue))


def connectors_show(name: str, connectors_dir: Path | None = None) -> str:
    """The connector's page: options, scopes, rate limits, semantics, settings."""
    return render_markdown(get_connector(name, connectors_dir))


def connectors_init(name: str, connectors_dir: Path | None = None) -> str:
    """A configuration file with one source of the connector, ready to fill in."""
    return starter_yaml(get_connector(name, connectors_dir))
