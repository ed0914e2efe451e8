"""What to ask for: :class:`CollectorRequest` (endpoint, records path, pagination, windows)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectorkit._errors import ConfigError, ResponseDecodeError
from collectorkit._immutable import explain_assignment
from collectorkit._records import Record
from collectorkit.collect._incremental import END_PLACEHOLDER, IncrementalConfig
from collectorkit.collect._pagination import PaginationConfig
from collectorkit.collect._paginator import StandardPaginator
from collectorkit.collect._paths import JSONPath, compile_path
from collectorkit.collect._spec import RequestSpec
from collectorkit.collect._state import CollectorState
from collectorkit.typing import Paginator

__all__ = ["CollectorRequest", "Shard"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True, slots=True, kw_only=True)
class Shard:
    """One slice of a fanned-out collection (a region, a device) with its own state."""

    state_key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.state_key, str) or not self.state_key:
            raise ConfigError(
                f"each shard needs a state_key, got {self.state_key!r}", path="shard.state_key"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectorRequest:
    """The request a collector repeats, page after page.

    ``endpoint`` is a path under the blueprint's ``base_url`` (or an absolute URL).
    ``data_path`` (JMESPath) selects the record list in the body; without it the body itself
    is the list; a JSON object there is one record (as XSOAR and Filebeat read it). A
    ``data_path`` that finds nothing means an empty page (in a body that holds lists elsewhere,
    a self-check finding instead: see ``collectorkit.collect.Finding``). ``shards`` — dicts
    ``{"params": …, "state_key": …}`` (optionally ``json``/``headers``) merged over the base
    request — are what the ``concurrent`` strategy fans out over, each resuming on its own.
    ``state_key`` names this feed's state in a context (``collector_client[name][state_key]``).
    ``paginator`` replaces the built-in one for paging dialects ``pagination`` cannot describe
    (any :class:`~collectorkit.typing.Paginator`).
    """

    endpoint: str
    method: str = "GET"
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    data_path: str | None = None
    pagination: PaginationConfig = field(default_factory=PaginationConfig)
    state_key: str = "default"
    shards: Sequence[Shard | Mapping[str, Any]] = ()
    incremental: IncrementalConfig | None = None
    paginator: Paginator | None = None
    _data: JSONPath | None = field(default=None, init=False, repr=False, compare=False)
    _paginator: Paginator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = "request"
        if not isinstance(self.endpoint, str) or not self.endpoint:
            raise ConfigError(
                f"expected a path or URL, got {self.endpoint!r}", path=f"{where}.endpoint"
            )
        method = str(self.method).upper()
        if method not in _METHODS:
            raise ConfigError(
                f"expected one of {', '.join(_METHODS)}, got {self.method!r}",
                path=f"{where}.method",
            )
        object.__setattr__(self, "method", method)
        pagination = _coerce(self.pagination, PaginationConfig, f"{where}.pagination")
        object.__setattr__(self, "pagination", pagination)
        if self.incremental is not None:
            incremental = _coerce(self.incremental, IncrementalConfig, f"{where}.incremental")
            object.__setattr__(self, "incremental", incremental)
        object.__setattr__(self, "_data", compile_path(self.data_path, field=f"{where}.data_path"))
        object.__setattr__(self, "shards", tuple(_shards(self.shards, where)))
        object.__setattr__(self, "_paginator", self.paginator or StandardPaginator(self.pagination))

    def replace(self, **changes: Any) -> CollectorRequest:
        return dataclasses.replace(self, **changes)

    def spec(self, shard: Shard | None = None) -> RequestSpec:
        """The first-page request (before pagination and windows), with ``shard`` merged in."""
        spec = RequestSpec(
            method=self.method,
            url=self.endpoint,
            params=dict(self.params),
            json=self.json,
            headers=dict(self.headers),
        )
        if shard is None:
            return spec
        json = spec.json
        if isinstance(shard.json, Mapping):
            json = {**(json if isinstance(json, Mapping) else {}), **shard.json}
        elif shard.json is not None:
            json = shard.json
        return spec.replace(
            params={**spec.params, **shard.params},
            json=json,
            headers={**spec.headers, **shard.headers},
        )

    @property
    def sends_window_end(self) -> bool:
        """True when requests tell the API where the incremental window ends (``end_param``
        or an ``{end}`` placeholder in the params, body or a shard's params)."""
        inc = self.incremental
        if inc is None:
            return False
        if inc.end_param is not None:
            return True
        values = [self.params, self.json, *(s.params for s in self.shards if isinstance(s, Shard))]
        return any(_mentions(value, END_PLACEHOLDER) for value in values)

    @property
    def active_paginator(self) -> Paginator:
        """``paginator`` if given, else the built-in one for ``pagination``."""
        return self._paginator

    def next_request(self, state: CollectorState, shard: Shard | None = None) -> RequestSpec:
        """The request to send from ``state``: the base request (with ``shard`` merged), the
        incremental window of ``state``, then the paging position of ``state``."""
        spec = self.spec(shard)
        inc = self.incremental
        if inc is not None:
            spec = inc.apply_state(spec, state)
        prepared: RequestSpec = self.active_paginator.prepare(spec, state)
        return prepared

    def records_of(self, body: Any) -> list[Record]:
        """The records in a response body (a list of JSON objects; one object is one record)."""
        found = self._data.search(body) if self._data is not None else body
        if found is None:
            return []
        if isinstance(found, dict):
            return [found]
        if not isinstance(found, list):
            where = f"data_path {self.data_path!r}" if self.data_path else "the response body"
            raise ResponseDecodeError(
                f"{where} is a {type(found).__name__}, expected a list of records or one record"
            )
        return found


def _coerce(value: Any, kind: type[Any], path: str) -> Any:
    """``value`` as ``kind``; a mapping (from YAML) is passed as keyword arguments."""
    if isinstance(value, kind):
        return value
    if isinstance(value, Mapping):
        try:
            return kind(**value)
        except TypeError as exc:
            raise ConfigError(str(exc).replace("__init__() ", ""), path=path) from None
        except ConfigError as exc:
            raise ConfigError(
                exc.reason, path=f"{path}.{(exc.path or '').split('.', 1)[-1]}"
            ) from None
    raise ConfigError(f"expected a {kind.__name__} or a mapping, got {value!r}", path=path)


explain_assignment(
    CollectorRequest, "request", ", then `blueprint = blueprint.replace(request=request)`"
)


def _shards(shards: Sequence[Shard | Mapping[str, Any]], where: str) -> list[Shard]:
    out: list[Shard] = []
    for index, item in enumerate(shards):
        path = f"{where}.shards[{index}]"
        if isinstance(item, Shard):
            shard = item
        elif isinstance(item, Mapping):
            unknown = set(item) - {"params", "json", "headers", "state_key"}
            if unknown:
                raise ConfigError(f"unknown keys {sorted(unknown)}", path=path)
            key = item.get("state_key")
            if not isinstance(key, str) or not key:
                raise ConfigError(f"each shard needs a state_key, got {key!r}", path=path)
            shard = Shard(
                state_key=key,
                params=dict(item.get("params") or {}),
                json=item.get("json"),
                headers=dict(item.get("headers") or {}),
            )
        else:
            raise ConfigError(f"expected a dict or Shard, got {item!r}", path=path)
        if any(s.state_key == shard.state_key for s in out):
            raise ConfigError(f"duplicate state_key {shard.state_key!r}", path=path)
        out.append(shard)
    return out


def _mentions(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return text in value
    if isinstance(value, Mapping):
        return any(_mentions(v, text) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, text) for v in value)
    return False
