"""``collectorkit state show|reset|set``: look at and change saved state by hand.

State lives in three namespaces of the state store: the collector checkpoints (cursor, page,
offset, watermark …), the watermark records of seed 001, and seed 002's processed ids. A source
owns every key equal to its name or starting with ``<name>:`` / ``<name>/`` (shards).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from collectorkit._errors import CollectorError, ConfigError
from collectorkit._instants import check_not_future, parse_instant
from collectorkit._redact import redact_url
from collectorkit.delivery._processed import NAMESPACE as PROCESSED_NAMESPACE
from collectorkit.typing import StateStore

__all__ = [
    "collector_namespace",
    "owned_by",
    "reset_state",
    "set_state",
    "show_state",
    "state_namespaces",
]

T = TypeVar("T")


def collector_namespace() -> str:
    """Where the checkpoint loop saves collector state."""
    from collectorkit.delivery import DEFAULT_CHECKPOINT_NAMESPACE

    return DEFAULT_CHECKPOINT_NAMESPACE


def state_namespaces() -> tuple[str, ...]:
    from collectorkit.state._watermarks import WATERMARK_NAMESPACE

    return (collector_namespace(), WATERMARK_NAMESPACE, PROCESSED_NAMESPACE)


def owned_by(key: str, source: str | None) -> bool:
    return source is None or key == source or key.startswith((f"{source}:", f"{source}/"))


def _with_store(url: str, work: Callable[[StateStore], Awaitable[T]]) -> T:
    async def main() -> T:
        from collectorkit.state import open_state_store

        store = await open_state_store(url)
        try:
            return await work(store)
        finally:
            await store.aclose()

    return asyncio.run(main())


def _fail(message: str) -> int:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False)
    return 1


def show_state(url: str, source: str | None) -> int:
    """Print every saved entry (of ``source``) as a table; 1 when there is none."""
    from rich.console import Console
    from rich.table import Table

    async def collect(store: StateStore) -> list[tuple[str, str, int, float, Any]]:
        rows = []
        for namespace in state_namespaces():
            for key, stored in sorted((await store.list(namespace)).items()):
                if owned_by(key, source):
                    rows.append((namespace, key, stored.version, stored.updated_at, stored.value))
        return rows

    try:
        rows = _with_store(url, collect)
    except CollectorError as exc:
        return _fail(str(exc))
    console, where = Console(), redact_url(url)
    if not rows:
        console.print(f"no saved state{f' for {source!r}' if source else ''} in {where}")
        return 1
    table = Table(title=f"state in {where}", show_lines=True)
    for column in ("namespace", "key", "version", "updated", "value"):
        table.add_column(column, overflow="fold")
    for namespace, key, version, updated, value in rows:
        when = datetime.fromtimestamp(updated, tz=UTC).isoformat(timespec="seconds")
        table.add_row(namespace, key, str(version), when, _summary(namespace, value))
    console.print(table)
    return 0


def _summary(namespace: str, value: Any) -> str:
    if namespace == PROCESSED_NAMESPACE and isinstance(value, dict):
        ids = value.get("ids") or []
        return f"{len(ids)} ids (capacity {value.get('capacity')}), newest: {ids[-3:]}"
    shown = {k: v for k, v in dict(value).items() if v not in (None, {}, [], 0, False)}
    text = json.dumps(shown, default=str)
    return text if len(text) <= 400 else text[:400] + " …"


def reset_state(url: str, source: str) -> int:
    """Delete every entry ``source`` owns in every namespace."""

    async def delete(store: StateStore) -> list[str]:
        gone = []
        for namespace in state_namespaces():
            for key in await store.list(namespace):
                if owned_by(key, source) and await store.delete(namespace, key):
                    gone.append(f"{namespace}/{key}")  # noqa: PERF401 - awaits in the condition
        return gone

    try:
        gone = _with_store(url, delete)
    except CollectorError as exc:
        return _fail(str(exc))
    print(f"deleted {len(gone)} entries of {source!r}: {', '.join(gone) or 'none'}")
    return 0


def set_state(url: str, source: str, *, watermark: str | None, cursor: str | None) -> int:
    """Set the watermark (the position is cleared: the next run starts a fresh window from it)
    and/or the cursor of ``source``'s collector state."""
    from collectorkit.collect import CollectorState

    try:
        instant = None if watermark is None else parse_instant(watermark, field="--watermark")
        if instant is not None:
            check_not_future(instant, now=time.time(), field="--watermark")
    except ConfigError as exc:
        return _fail(str(exc))

    async def update(store: StateStore) -> dict[str, Any]:
        namespace = collector_namespace()
        stored = await store.get(namespace, source)
        state = CollectorState.from_dict(stored.value if stored else None)
        if instant is not None:
            state = state.reset_position().replace(
                watermark=instant, window_start=None, window_end=None, boundary_ids={}
            )
        if cursor is not None:
            state = state.replace(cursor=cursor, skip=0)
        value = state.to_dict()
        await store.put(namespace, source, value, if_version=stored.version if stored else 0)
        return value

    try:
        value = _with_store(url, update)
    except CollectorError as exc:
        return _fail(str(exc))
    print(f"{source}: watermark={value['watermark']} cursor={value['cursor']}")
    return 0
