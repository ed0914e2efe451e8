"""``collectorkit state show|reset|set``: look at and change saved state by hand.

State lives in three namespaces of the state store: the collector checkpoints (cursor, page,
offset, watermark …), the watermark records of seed 001, and seed 002's processed ids. A source
owns every key equal to its name or starting with ``<name>:`` / ``<name>/`` (shards).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from collectorkit._errors import CollectorError, ConfigError
from collectorkit._instants import check_not_future, parse_instant
from collectorkit._redact import redact_url, url_secrets
from collectorkit.config._load import register_secrets
from collectorkit.delivery._processed import NAMESPACE as PROCESSED_NAMESPACE
from collectorkit.typing import StateStore

if TYPE_CHECKING:
    from collectorkit.config._models import Config

__all__ = [
    "choose_state",
    "collector_namespace",
    "no_state_yet",
    "owned_by",
    "reset_state",
    "set_state",
    "show_state",
    "state_namespaces",
    "state_url_for",
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


def state_url_for(config: Path | None, state: str | None) -> str:
    """``--state``, else the ``state:`` of the configuration file, else the store ``run`` picks
    without one (``STORAGE_SERVICE_URL`` or the default file).

    Only the ``state:`` setting of the file is read: the sources' secrets need not be set to look
    at their state.
    """
    from collectorkit.config._models import DEFAULT_STATE_URL
    from collectorkit.state._open import state_from_environment

    url = state or (None if config is None else _state_in_file(config))
    return url or state_from_environment(DEFAULT_STATE_URL)[0]


def _state_in_file(path: Path) -> str | None:
    from collectorkit.config._issues import ConfigValidationError
    from collectorkit.config._load import _read as read_config_file
    from collectorkit.config._refs import resolve_references

    data, _ = read_config_file(path)  # the loader's reading and YAML rules, nothing validated
    if not isinstance(data, dict) or data.get("state") is None:
        return None
    resolved, issues, secrets = resolve_references({"state": data["state"]}, os.environ)
    if issues:
        raise ConfigValidationError(issues, origin=str(path))
    url = resolved["state"]
    if not isinstance(url, str):
        raise ConfigError(f"must be a URL, got {type(url).__name__}", path="state")
    register_secrets([*secrets, *url_secrets(url)])
    return url


def no_state_yet(url: str) -> bool:
    """Whether ``url`` is a SQLite file that does not exist (no state was ever saved there)."""
    from collectorkit.state._open import sqlite_state_path

    path = sqlite_state_path(url)
    return bool(path) and not Path(str(path)).exists()


class _NoStateYetError(Exception):
    """The SQLite file of the state store does not exist: nothing was ever saved there."""


def _with_store(
    url: str,
    work: Callable[[StateStore], Awaitable[T]],
    *,
    create: bool = False,
    lock: bool = True,
) -> T:
    """Run ``work`` on the store at ``url``; a missing SQLite file raises :class:`_NoStateYetError`
    unless ``create`` (looking never makes an empty database). ``lock=False``: only looking,
    so a running daemon's SQLite file may be read."""
    if not create and no_state_yet(url):
        raise _NoStateYetError(redact_url(url).removeprefix("sqlite:///"))

    async def main() -> T:
        from collectorkit.state import open_state_store

        store = await open_state_store(url, lock=lock)
        try:
            return await work(store)
        finally:
            await store.aclose()

    return asyncio.run(main())


def _fail(exc: CollectorError) -> int:
    from rich.console import Console

    from collectorkit.daemon._logging import print_command_error

    return print_command_error(Console(stderr=True), exc)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def show_state(url: str, source: str | None, *, as_json: bool = False) -> int:
    """Print every saved entry (of ``source``) as a table (or JSON); 1 when there is none."""

    async def collect(store: StateStore) -> list[tuple[str, str, int, float, Any]]:
        rows = []
        for namespace in state_namespaces():
            for key, stored in sorted((await store.list(namespace)).items()):
                if owned_by(key, source):
                    rows.append((namespace, key, stored.version, stored.updated_at, stored.value))
        return rows

    where = redact_url(url)
    try:
        rows = _with_store(url, collect, lock=False)
    except _NoStateYetError as missing:
        return _no_state_yet(where, str(missing), as_json=as_json)
    except CollectorError as exc:
        return _fail(exc)
    if as_json:
        _print_json({"state": where, "entries": [_entry(*row) for row in rows]})
    else:
        _print_table(where, source, rows)
    return 0 if rows else 1


def _no_state_yet(where: str, path: str, *, as_json: bool, code: int = 1) -> int:
    if as_json:
        _print_json({"state": where, "entries": [], "deleted": []})
    else:
        print(f"no state yet at {path} (nothing has been collected into it)")
    return code


def _when(updated: float) -> str:
    return datetime.fromtimestamp(updated, tz=UTC).isoformat(timespec="seconds")


def _entry(namespace: str, key: str, version: int, updated: float, value: Any) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "key": key,
        "version": version,
        "updated_at": _when(updated),
        "value": value,
    }


def _print_table(
    where: str, source: str | None, rows: list[tuple[str, str, int, float, Any]]
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(f"no saved state{f' for {source!r}' if source else ''} in {where}")
        return
    table = Table(title=f"state in {where}", show_lines=True)
    for column in ("namespace", "key", "version", "updated", "value"):
        table.add_column(column, overflow="fold")
    for namespace, key, version, updated, value in rows:
        table.add_row(namespace, key, str(version), _when(updated), _summary(namespace, value))
    console.print(table)


def _summary(namespace: str, value: Any) -> str:
    if namespace == PROCESSED_NAMESPACE and isinstance(value, dict):
        ids = value.get("ids") or []
        return f"{len(ids)} ids (capacity {value.get('capacity')}), newest: {ids[-3:]}"
    shown = {k: v for k, v in dict(value).items() if v not in (None, {}, [], 0, False)}
    text = json.dumps(shown, default=str)
    return text if len(text) <= 400 else text[:400] + " …"


def reset_state(url: str, source: str, *, as_json: bool = False) -> int:
    """Delete every entry ``source`` owns in every namespace."""

    async def delete(store: StateStore) -> list[str]:
        gone = []
        for namespace in state_namespaces():
            for key in await store.list(namespace):
                if owned_by(key, source) and await store.delete(namespace, key):
                    gone.append(f"{namespace}/{key}")  # noqa: PERF401 - awaits in the condition
        return gone

    where = redact_url(url)
    try:
        gone = _with_store(url, delete)
    except _NoStateYetError as missing:
        return _no_state_yet(where, str(missing), as_json=as_json, code=0)
    except CollectorError as exc:
        return _fail(exc)
    if as_json:
        _print_json({"state": where, "source": source, "deleted": gone})
    else:
        print(f"deleted {len(gone)} entries of {source!r}: {', '.join(gone) or 'none'}")
    return 0


def set_state(
    url: str, source: str, *, watermark: str | None, cursor: str | None, as_json: bool = False
) -> int:
    """Set the watermark (the position is cleared: the next run starts a fresh window from it)
    and/or the cursor of ``source``'s collector state."""
    from collectorkit.collect import CollectorState

    try:
        instant = None if watermark is None else parse_instant(watermark, field="--watermark")
        if instant is not None:
            check_not_future(instant, now=time.time(), field="--watermark")
    except ConfigError as exc:
        return _fail(exc)

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
        value = _with_store(url, update, create=True)  # a first watermark may start the file
    except CollectorError as exc:
        return _fail(exc)
    if as_json:
        _print_json({"state": redact_url(url), "source": source, **value})
    else:
        print(f"{source}: watermark={value['watermark']} cursor={value['cursor']}")
    return 0


def choose_state(config: Config, *, log_level: str | None = None) -> Config:
    """``config`` with the store of ``STORAGE_SERVICE_URL`` when it names none (seed 001).

    With a ``log_level`` (``run``), which store it uses is logged either way, in the
    storage-client guide's words; ``once`` shows the store in its summary instead."""
    if "state" in config.model_fields_set:
        return config
    from collectorkit.config._models import DEFAULT_STATE_URL
    from collectorkit.daemon._logging import configure_logging
    from collectorkit.http._redact import get_logger
    from collectorkit.state._open import state_from_environment

    url, note = state_from_environment(DEFAULT_STATE_URL)
    token = os.environ.get("STORAGE_SERVICE_TOKEN")
    register_secrets([*url_secrets(url), *([token] if token else [])])
    if log_level is not None:
        configure_logging(level=log_level)
        get_logger("collectorkit.state").info(note)
    return config.model_copy(update={"state": url})
