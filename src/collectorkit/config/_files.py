"""The files a configuration writes: one writer per file, and where rejected records go.

Two sinks (or a sink and the dead letter) that resolve to one file would interleave their writes
and lose records: :func:`shared_file_issues` names both config paths. Records the pipeline
rejects are never dropped: without a ``dead_letter:`` they go to :func:`default_dead_letter_path`,
a JSON Lines file next to the state database (``./`` when the state is not a file).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from collectorkit._locks import lock_path_for
from collectorkit.config._refs import ConfigIssue
from collectorkit.sinks import build_sink
from collectorkit.typing import Sink

if TYPE_CHECKING:
    from collectorkit.config._models import Config

__all__ = [
    "DEFAULT_DEAD_LETTER_NAME",
    "dead_letter_for",
    "default_dead_letter_path",
    "file_issues",
    "shared_file_issues",
]

DEFAULT_DEAD_LETTER_NAME = "collectorkit-dead-letter.jsonl"


def default_dead_letter_path(state_url: str) -> str:
    """``collectorkit-dead-letter.jsonl`` in the folder of a ``sqlite:///`` state, else ``./``."""
    if state_url.startswith("sqlite:///") and state_url != "sqlite:///:memory:":
        folder = os.path.dirname(state_url[len("sqlite:///") :])
        return os.path.join(folder or ".", DEFAULT_DEAD_LETTER_NAME)
    return os.path.join(".", DEFAULT_DEAD_LETTER_NAME)


def dead_letter_for(config: Config) -> Sink:
    """The file's ``dead_letter:`` sink, else the default JSON Lines file (not connected)."""
    spec = config.dead_letter
    if spec is not None:
        return build_sink({"type": spec.type, **spec.options}, path="dead_letter")
    path = default_dead_letter_path(config.state)
    return build_sink({"type": "jsonl", "path": path, "name": "dead_letter"}, path="dead_letter")


def file_issues(config: Config) -> list[ConfigIssue]:
    """Sinks and the dead letter (configured or default) of ``config`` that share a file."""
    sinks = [
        (f"sinks[{i}]", build_sink({"type": s.type, **s.options}, path=f"sinks[{i}]"))
        for i, s in enumerate(config.sinks)
    ]
    return shared_file_issues([*sinks, ("dead_letter", dead_letter_for(config))])


def shared_file_issues(sinks: Sequence[tuple[str, Sink]]) -> list[ConfigIssue]:
    """One issue per pair of ``(config path, sink)`` that would write one file.

    Sinks that keep offsets in memory (JSON Lines, JSON files) need their file alone; SQLite
    sinks may share a database file as long as their tables differ.
    """
    seen: dict[str, tuple[str, Sink]] = {}
    issues: list[ConfigIssue] = []
    for path, sink in sinks:
        for file in getattr(sink, "locked_files", ()):
            key = lock_path_for(file)
            first = seen.setdefault(key, (path, sink))
            if first[1] is sink:
                continue
            other_path, other = first
            exclusive = getattr(sink, "exclusive_writer", True) or getattr(
                other, "exclusive_writer", True
            )
            same = getattr(sink, "location", sink) == getattr(other, "location", other)
            if exclusive or same:
                issues.append(
                    (
                        path,
                        f"writes {file!r}, which {other_path} writes too: two writers of one "
                        "file lose records; give each its own file",
                    )
                )
                break
    return issues
