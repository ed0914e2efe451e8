"""Self-checks: every page is checked against the configuration that read it.

A wrong path in a configuration rarely fails: it reads nothing, or stops early, or never moves
the watermark — and the run looks like a clean success. :class:`SelfCheck` looks at each page
as it is walked and records a :class:`Finding` (once per check and run) when:

- ``data_path`` matches nothing in a body that holds lists (``data_path``);
- no next cursor or link was found where the configured path points while the page was full,
  ``has_more`` said there is more, or the body holds a cursor-like value elsewhere
  (``next_page``);
- no record of a page has the ``timestamp_field`` (``timestamp_field``) or the key fields
  (``key_fields``, checked by the delivery loop on the records as the sinks get them);
- ``has_more_path`` / ``total_path`` / ``total_pages_path`` is not in the body (these also
  fail the run; the finding names what the body holds instead).

Each finding names the configured path and what the body holds instead: its list-valued paths
and its cursor-, flag- and count-like paths, found the way dlt's paginator detection finds them.
A page that is empty because there is nothing new finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectorkit._errors import CollectorError
from collectorkit._instants import instant_or_none
from collectorkit._records import Record, lookup_path
from collectorkit.collect._paths import compile_path
from collectorkit.collect._spec import PageResponse, StopReason

if TYPE_CHECKING:
    from collectorkit.collect._request import CollectorRequest
    from collectorkit.http import CollectorLogger

__all__ = ["Finding", "SelfCheck", "body_outline", "missing_fields_finding"]

_DEPTH = 4
_MAX_CANDIDATES = 6
_CURSOR_NAME = re.compile(
    r"(?i)^(?:.*[_-])?(?:next|cursor|continuation|scroll_?id|page_?token|next_?page_?token|"
    r"next_?link|next_?url|next_?page|next_?cursor|nextpagetoken|nextlink|nextcursor|after)$"
)
_FLAG_NAME = re.compile(r"(?i)^(?:has_?more|has_?next(?:_?page)?|more|is_?last|last_?page|done)$")
_COUNT_NAME = re.compile(r"(?i)^(?:total|count|total_?count|total_?pages|total_?results|size)$")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_ID_NAME = re.compile(r"(?i)(?:^|_)(?:id|uuid|guid|key)$|Id$|ID$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """What a self-check found: the configured ``path`` (``request.data_path``) and ``value``,
    what the response held instead (``message``) and the paths it suggests (``candidates``).

    ``check`` names the check (``data_path``, ``next_page``, ``timestamp_field``,
    ``key_fields``, ``has_more_path``, ``total_path``, ``total_pages_path``); ``page`` is the
    first page (1-based, in this run) it was seen on.
    """

    check: str
    path: str
    value: str
    message: str
    candidates: tuple[str, ...] = ()
    page: int = 1

    def __str__(self) -> str:
        text = f"{self.path} {self.value!r} {self.message}"
        if self.candidates:
            text += f"; candidates: {', '.join(self.candidates)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "path": self.path,
            "value": self.value,
            "message": self.message,
            "candidates": list(self.candidates),
            "page": self.page,
            "text": str(self),
        }


@dataclass(slots=True)
class BodyOutline:
    """The paths of a response body a configuration might have meant."""

    lists: list[tuple[str, int]] = field(default_factory=list)
    """List-valued paths and their lengths, lists of objects first."""
    cursors: list[str] = field(default_factory=list)
    """Paths of non-empty cursor- or next-link-like values."""
    flags: list[str] = field(default_factory=list)
    counts: list[str] = field(default_factory=list)

    @property
    def list_paths(self) -> list[str]:
        return [f"{path} ({n} items)" for path, n in self.lists]


def body_outline(body: Any) -> BodyOutline:
    """The list-valued, cursor-like, flag-like and count-like paths of ``body`` (4 levels)."""
    outline = BodyOutline()
    objects: list[tuple[str, int]] = []
    others: list[tuple[str, int]] = []
    for path, value in _walk(body, (), 0):
        name = path[-1]
        dotted = ".".join(path)
        if isinstance(value, list):
            into = objects if value and isinstance(value[0], Mapping) else others
            into.append((dotted, len(value)))
        elif isinstance(value, bool):
            if _FLAG_NAME.match(name):
                outline.flags.append(dotted)
        elif isinstance(value, str | int) and value != "" and _CURSOR_NAME.match(name):
            outline.cursors.append(dotted)
        elif isinstance(value, int) and _COUNT_NAME.match(name):
            outline.counts.append(dotted)
    outline.lists = (objects + others)[:_MAX_CANDIDATES]
    return outline


def _walk(value: Any, path: tuple[str, ...], depth: int) -> Iterator[tuple[tuple[str, ...], Any]]:
    if not isinstance(value, Mapping) or depth >= _DEPTH:
        return
    for key, item in value.items():
        if not isinstance(key, str):
            continue
        here = (*path, key)
        yield here, item
        if isinstance(item, Mapping):
            yield from _walk(item, here, depth + 1)


def _spelled(dotted: str) -> str:
    """``dotted`` as a JMESPath a configuration can use (odd keys quoted)."""
    if _DOTTED.fullmatch(dotted):
        return dotted
    return ".".join(
        p if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) else f'"{p}"' for p in dotted.split(".")
    )


def _present(body: Any, expression: str) -> bool:
    """Whether the key at the dotted ``expression`` is in ``body`` (its value may be null); an
    expression that is not a plain dotted path counts as present."""
    if not _DOTTED.fullmatch(expression):
        return True
    node = body
    for key in expression.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def _first_with(records: Sequence[Record], present: Callable[[Record], bool]) -> bool:
    return any(present(r) for r in records if isinstance(r, Mapping))


def _field_candidates(records: Sequence[Record], pattern: re.Pattern[str] | None) -> list[str]:
    """Top-level fields of the first record matching ``pattern`` (timestamps: ``None``)."""
    first = next((r for r in records if isinstance(r, Mapping)), None)
    if first is None:
        return []
    out = []
    for key, value in first.items():
        if pattern is None:
            if isinstance(value, str) and instant_or_none(value) is not None:
                out.append(str(key))
        elif isinstance(value, str | int) and not isinstance(value, bool) and pattern.search(key):
            out.append(str(key))
    return out[:_MAX_CANDIDATES]


def missing_fields_finding(
    records: Sequence[Record], fields: Sequence[str], *, page: int
) -> Finding | None:
    """A ``key_fields`` finding when no record of ``records`` has all of ``fields`` (their keys
    are then content hashes: a record that changes is stored again)."""
    if not records or not fields:
        return None
    if _first_with(records, lambda r: all(lookup_path(r, f) is not None for f in fields)):
        return None
    return Finding(
        check="key_fields",
        path="key_fields",
        value=", ".join(fields),
        message=(
            f"matched nothing in the {len(records)} records of page {page}; their keys are "
            "content hashes, so a record that changes is stored again (key_fields: [] keys "
            "records by content on purpose)"
        ),
        candidates=tuple(_field_candidates(records, _ID_NAME)),
        page=page,
    )


class SelfCheck:
    """Checks the pages of one run against ``request``; :attr:`findings` holds what it found
    (each check once, with the first page it was seen on), each logged as a warning."""

    def __init__(self, request: CollectorRequest, logger: CollectorLogger | None = None) -> None:
        self._request = request
        self._data = compile_path(request.data_path, field="request.data_path")
        self._log = logger
        self._found: dict[str, Finding] = {}

    @property
    def findings(self) -> list[Finding]:
        return list(self._found.values())

    def add(self, finding: Finding | None) -> None:
        """Record ``finding`` unless its check already found something in this run."""
        if finding is None or finding.check in self._found:
            return
        self._found[finding.check] = finding
        if self._log is not None:
            self._log.warning(
                "self-check: the configuration does not match the response",
                check=finding.check,
                finding=str(finding),
            )

    # --- the checks ----------------------------------------------------------------------------

    def records(self, body: Any, records: Sequence[Record], page: int) -> bool:
        """The records path and the timestamp field, on one page's body and records; ``True``
        when ``data_path`` matched nothing in a body that holds lists (the page is unread)."""
        if records:
            self.add(self._timestamp(records, page))
            return False
        finding = self._data_path(body, page)
        self.add(finding)
        return finding is not None

    def _data_path(self, body: Any, page: int) -> Finding | None:
        if self._data is None or self._data.search(body) is not None:
            return None
        if isinstance(body, list):
            return Finding(
                check="data_path",
                path="request.data_path",
                value=self._data.expression,
                message=(
                    f"matched nothing in the response of page {page}: the body itself is a list "
                    f"of {len(body)} items (leave data_path out)"
                ),
                page=page,
            )
        outline = body_outline(body)
        if not outline.lists:
            return None  # nothing list-like: an API that leaves out an empty list
        holds = ", ".join(outline.list_paths)
        return Finding(
            check="data_path",
            path="request.data_path",
            value=self._data.expression,
            message=f"matched nothing in the response of page {page}; it holds lists at {holds}",
            candidates=tuple(_spelled(p) for p, _ in outline.lists),
            page=page,
        )

    def _timestamp(self, records: Sequence[Record], page: int) -> Finding | None:
        inc = self._request.incremental
        if inc is None or _first_with(records, lambda r: inc.value_of(r) is not None):
            return None
        kind = "an integer" if inc.sequence else "a readable time"
        candidates = _field_candidates(records, None) if not inc.sequence else []
        return Finding(
            check="timestamp_field",
            path="request.incremental.timestamp_field",
            value=inc.timestamp_field,
            message=(
                f"is missing from all {len(records)} records of page {page} (or is not {kind}); "
                "the watermark cannot move and every run fetches them again"
            ),
            candidates=tuple(candidates),
            page=page,
        )

    def advance(self, response: PageResponse, stop: StopReason | None, page: int) -> bool:
        """The next-page path, once the paginator decided there is no next page; ``True`` when
        the walk ended there only because the path matched nothing (the walk is cut short)."""
        cfg = self._request.pagination
        if stop is not StopReason.NO_NEXT or self._request.paginator is not None:
            return False
        name = {"cursor": "next_cursor_path", "link": "link_path"}.get(cfg.mode)
        path = cfg.path(name) if name is not None else None
        if path is None or path.search(response.body) not in (None, ""):
            return False
        more = cfg.has_more_path is not None  # has_more said more, else it would have ended
        if _present(response.body, path.expression) and not more:
            return False  # the API said "no next" (null or ""): a last page
        outline = body_outline(response.body)
        cursors = [c for c in outline.cursors if c != path.expression]
        full = cfg.page_size is not None and response.record_count >= cfg.page_size
        if not (cursors or full or more):
            return False
        reasons = [
            f"pagination.has_more_path {cfg.has_more_path!r} said there is more" if more else "",
            "the page was full" if full else "",
            f"the body holds {', '.join(cursors)}" if cursors else "",
        ]
        why = "; ".join(r for r in reasons if r)
        self.add(
            Finding(
                check="next_page",
                path=f"request.pagination.{name}",
                value=path.expression,
                message=f"matched nothing on page {page}, so the walk stopped there; {why}",
                candidates=tuple(_spelled(c) for c in cursors[:_MAX_CANDIDATES]),
                page=page,
            )
        )
        return True

    def missing(self, name: str, body: Any, page: int) -> Finding | None:
        """A finding for the pagination ``name`` path (``has_more_path`` …) absent from ``body``."""
        cfg = self._request.pagination
        path = cfg.path(name)
        if path is None or path.search(body) is not None:
            return None
        outline = body_outline(body)
        found = outline.flags if name == "has_more_path" else outline.counts
        finding = Finding(
            check=name,
            path=f"request.pagination.{name}",
            value=path.expression,
            message=f"is not in the response of page {page}",
            candidates=tuple(_spelled(c) for c in found[:_MAX_CANDIDATES]),
            page=page,
        )
        self.add(finding)
        return finding

    def explain_paging(self, error: CollectorError, body: Any, page: int) -> None:
        """Record which pagination path ``error`` (the paginator could not read a page) missed,
        and add what the body holds instead to its message."""
        for name in ("has_more_path", "total_path", "total_pages_path"):
            finding = self.missing(name, body, page)
            if finding is not None:
                _suggest(error, finding)
                return

    def explain_records(self, error: CollectorError, body: Any, page: int) -> None:
        """Record that ``data_path`` is not a list (``error``), with the lists the body holds."""
        if self._data is None:
            return
        outline = body_outline(body)
        finding = Finding(
            check="data_path",
            path="request.data_path",
            value=self._data.expression,
            message=f"is not a list of records on page {page}",
            candidates=tuple(_spelled(p) for p, _ in outline.lists),
            page=page,
        )
        self.add(finding)
        _suggest(error, finding)


def _suggest(error: CollectorError, finding: Finding) -> None:
    if finding.candidates:
        error.message = f"{error.message}; candidates: {', '.join(finding.candidates)}"
