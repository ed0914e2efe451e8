"""collectorkit.cli: the ``collectorkit`` command (typer) and each command's body."""

from __future__ import annotations

from collectorkit.cli._app import app, main

__all__ = ["app", "main"]
