"""How a source authenticates and what it requests, as the library defines them.

``request`` is the collector's :class:`~collectorkit.collect.CollectorRequest` read from its
constructor (its ``shards`` are :class:`~collectorkit.collect.Shard` objects, its
``pagination`` and ``incremental`` the objects below).

``auth`` is one of the auth kinds of :data:`collectorkit.http._auth_kinds.AUTH_KINDS` with that
handler's own parameters as options; ``pagination`` and ``incremental`` are the collector's
:class:`~collectorkit.collect.PaginationConfig` and :class:`~collectorkit.collect.IncrementalConfig`
(each pagination mode accepts only the options it reads, so ``cursor_param`` under ``mode: page``
is an error rather than silently ignored).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, SecretStr

from collectorkit.collect import CollectorRequest, IncrementalConfig, PaginationConfig, Shard
from collectorkit.collect._pagination import PAGINATION_MODES
from collectorkit.config._objects import Options, plain_options, read_as
from collectorkit.config._types import masked_repr
from collectorkit.http import AuthHandler
from collectorkit.http._auth_kinds import AUTH_KINDS, build_auth_handler

__all__ = [
    "Auth",
    "AuthSpec",
    "Incremental",
    "Pagination",
    "Request",
    "ShardOptions",
    "StrictModel",
]


class StrictModel(BaseModel):
    """Frozen, unknown keys refused: the base of every configuration model."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # repr() and str() show what to_dict() shows: secrets masked, by name and by value
        for name, value in super().__repr_args__():
            yield name, _Shown(masked_repr(value, name))


class _Shown:
    """A value that repr()s as the text it was given."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@dataclasses.dataclass(frozen=True)
class AuthSpec:
    """A source's credentials: ``type`` names an auth kind, ``options`` are the parameters of
    that kind's handler (credentials held as ``SecretStr``). ``spec.token`` reads an option."""

    type: str = "none"
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.options[name]
        except KeyError:
            raise AttributeError(name) from None

    def build(self) -> AuthHandler | None:
        """The handler (``None`` for ``type: none``)."""
        if self.type == "none":
            return None
        options = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v
            for k, v in self.options.items()
        }
        return build_auth_handler(self.type, **options)

    def to_options(self) -> dict[str, Any]:
        return {"type": self.type, **self.options}


def _auth_spec(kind: str, options: BaseModel) -> AuthSpec:
    given = {k: v for k, v in plain_options(options, reveal=False).items() if k != "type"}
    spec = AuthSpec(type=kind, options=given)
    spec.build()  # the handler's own checks, now, at the YAML path
    return spec


Auth = Annotated[AuthSpec, Options(AUTH_KINDS, AuthSpec, tag="type", make=_auth_spec)]
"""``auth: {type: <kind>, ...that handler's parameters}``."""

Pagination = Annotated[
    PaginationConfig,
    Options(
        dict.fromkeys(PAGINATION_MODES, PaginationConfig),
        PaginationConfig,
        tag="mode",
        only=PAGINATION_MODES,
        names=PAGINATION_MODES,
    ),
]
"""``pagination: {mode: <mode>, ...the options that mode reads}``."""

Incremental = Annotated[
    IncrementalConfig, Options({"incremental": IncrementalConfig}, IncrementalConfig)
]
"""``incremental: {timestamp_field: created_at, ...}``: the collector's incremental windows."""
ShardOptions = Annotated[Shard, Options({"shard": Shard}, Shard)]
"""One slice of a ``concurrent`` collection: ``{state_key: eu, params: {...}}``."""
for _annotated in (Pagination, Incremental, ShardOptions):
    read_as(_annotated)  # wherever CollectorRequest's signature names them

Request = Annotated[CollectorRequest, Options({"request": CollectorRequest}, CollectorRequest)]
"""``request: {endpoint: /v1/alerts, data_path: data, pagination: {...}}``: what to request and
where the records are — :class:`collectorkit.collect.CollectorRequest`."""
