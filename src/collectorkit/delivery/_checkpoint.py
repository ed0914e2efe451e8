"""Who saves a page's checkpoint, and where a run resumes from.

A page's checkpoint is saved once, after every sink acknowledged its records: by the
transactional sink whose database the state store reads — records and state then commit in one
transaction — or else by the state store. :func:`checkpoint_sink_for` makes that choice from the
objects themselves (each transactional sink says whether it shares a store's database);
:func:`read_checkpoint` reads back what either of them saved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from collectorkit.typing import Sink, StateStore, TransactionalSink

__all__ = ["DEFAULT_CHECKPOINT_NAMESPACE", "checkpoint_sink_for", "read_checkpoint"]

DEFAULT_CHECKPOINT_NAMESPACE = "collector_state"


def checkpoint_sink_for(
    sinks: Sequence[Sink], store: StateStore | None
) -> TransactionalSink | None:
    """The first of ``sinks`` that commits checkpoints where ``store`` reads them, else ``None``
    (the store saves them itself, after the sinks acknowledged the page).

    SQLite and JSONL sinks share a :class:`~collectorkit.state.SQLiteStateStore` on the same
    file; PostgreSQL and Redis sinks a store on the same URL whose table (key prefix) is the
    sink's ``state_table`` (``state_prefix``).
    """
    if store is None:
        return None
    for sink in sinks:
        shares = getattr(sink, "shares_state_with", None)
        writes = getattr(sink, "store_with_checkpoint", None)
        if callable(shares) and callable(writes) and shares(store):
            return cast("TransactionalSink", sink)
    return None


async def read_checkpoint(
    store: StateStore, key: str, *, namespace: str = DEFAULT_CHECKPOINT_NAMESPACE
) -> Mapping[str, Any] | None:
    """The state last checkpointed at ``(namespace, key)``, or ``None`` before the first page."""
    stored = await store.get(namespace, key)
    return None if stored is None else stored.value
