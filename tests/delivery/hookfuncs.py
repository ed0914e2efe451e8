"""Callables named by import path in the callback tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CALLS: list[tuple[str | None, list[Any]]] = []


def remember(alerts: Sequence[Mapping[str, Any]]) -> None:
    CALLS.append((None, [a["id"] for a in alerts]))


async def remember_async(alerts: Sequence[Mapping[str, Any]], source: str) -> None:
    CALLS.append((source, [a["id"] for a in alerts]))


NOT_CALLABLE = 3
