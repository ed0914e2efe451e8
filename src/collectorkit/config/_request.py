"""Configuration models of how a source authenticates and what it requests.

Each ``type``/``mode`` is a variant of a discriminated union, so an option that belongs to another
variant (``cursor_param`` under ``mode: page``) is an error rather than silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectorkit.config._types import Duration, Secret

__all__ = [
    "APIKeyAuthConfig",
    "AuthConfig",
    "BasicAuthConfig",
    "BearerAuthConfig",
    "CursorPaginationConfig",
    "IncrementalConfig",
    "LinkPaginationConfig",
    "NoAuthConfig",
    "NoPaginationConfig",
    "OAuth2AuthConfig",
    "OffsetPaginationConfig",
    "PageNumberPaginationConfig",
    "PaginationConfig",
    "RequestConfig",
    "ShardConfig",
    "StrictModel",
]


class StrictModel(BaseModel):
    """Frozen, unknown keys refused: the base of every configuration model."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


# --- auth ----------------------------------------------------------------------------------------


class NoAuthConfig(StrictModel):
    type: Literal["none"] = "none"


class BearerAuthConfig(StrictModel):
    """``Authorization: Bearer <token>``."""

    type: Literal["bearer"]
    token: Secret


class APIKeyAuthConfig(StrictModel):
    """An API key in a header (default ``X-API-Key``) or, with ``query_param``, in the URL.

    ``key_id``/``key_id_header`` send a key id beside the key (Cortex XDR's ``x-xdr-auth-id``);
    ``prefix`` goes before the key (``"Token "``).
    """

    type: Literal["api_key"]
    key: Secret
    header_name: str | None = None
    query_param: str | None = None
    prefix: str | None = None
    key_id: str | None = None
    key_id_header: str | None = None

    @model_validator(mode="after")
    def _one_location(self) -> APIKeyAuthConfig:
        if self.header_name is not None and self.query_param is not None:
            raise ValueError("give header_name or query_param, not both")
        if self.key_id is not None and self.key_id_header is None:
            raise ValueError("key_id needs key_id_header (the header that carries it)")
        return self


class BasicAuthConfig(StrictModel):
    type: Literal["basic"]
    username: str
    password: Secret


class OAuth2AuthConfig(StrictModel):
    """OAuth2 client credentials; tokens are fetched and refreshed before they expire."""

    type: Literal["oauth2"]
    token_url: str
    client_id: str
    client_secret: Secret
    scope: str | list[str] | None = None
    audience: str | None = None
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    extra_params: dict[str, str] = Field(default_factory=dict)


AuthConfig = Annotated[
    NoAuthConfig | BearerAuthConfig | APIKeyAuthConfig | BasicAuthConfig | OAuth2AuthConfig,
    Field(discriminator="type"),
]


# --- pagination ----------------------------------------------------------------------------------


class _PageSize(StrictModel):
    """Common paging options. ``param_location: body`` sends page/offset/size in the JSON body
    (a dotted parameter name nests: ``request_data.search_from``)."""

    page_size: int | None = Field(default=None, ge=1)
    page_size_param: str | None = None
    param_location: Literal["query", "body"] = "query"
    max_pages: int | None = Field(default=None, ge=1)
    stop_on_empty_page: bool = True
    stop_on_short_page: bool = True


class CursorPaginationConfig(_PageSize):
    """The response carries the next cursor at ``next_cursor_path``; sent as ``cursor_param``
    in the query, the body or a header (``cursor_location``). ``expired_cursor_statuses`` on a
    resumed cursor fall back to the incremental watermark."""

    mode: Literal["cursor"]
    cursor_param: str = "cursor"
    next_cursor_path: str
    cursor_location: Literal["query", "body", "header"] = "query"
    cursor_only_body: bool = False
    has_more_path: str | None = None
    expired_cursor_statuses: list[int] = Field(default=[400, 404, 410])


class PageNumberPaginationConfig(_PageSize):
    mode: Literal["page"]
    page_param: str = "page"
    start_page: int = Field(default=1, ge=0)
    total_pages_path: str | None = None


class OffsetPaginationConfig(_PageSize):
    """``offset_param`` advances by the records received; ``total_path`` says when to stop;
    ``offset_end_param`` is sent as ``offset + page_size`` (Cortex XDR ``search_to``)."""

    mode: Literal["offset"]
    offset_param: str = "offset"
    offset_end_param: str | None = None
    total_path: str | None = None


class LinkPaginationConfig(_PageSize):
    """The next URL is in the body at ``link_path`` or, when that is unset, the ``Link`` header."""

    mode: Literal["link"]
    link_path: str | None = None
    expired_cursor_statuses: list[int] = Field(default=[400, 404, 410])


class NoPaginationConfig(StrictModel):
    mode: Literal["none"] = "none"


PaginationConfig = Annotated[
    CursorPaginationConfig
    | PageNumberPaginationConfig
    | OffsetPaginationConfig
    | LinkPaginationConfig
    | NoPaginationConfig,
    Field(discriminator="mode"),
]


# --- request -------------------------------------------------------------------------------------


class IncrementalConfig(StrictModel):
    """Collect a time window: from the stored watermark (minus ``overlap``) up to now.

    On the first run the window starts ``initial_lookback`` ago. ``start_param``/``end_param``
    carry the window (query or JSON body, ``param_location``), written as ``time_format``
    (``iso8601``, ``epoch_s``, ``epoch_ms`` or a strftime pattern). ``ordered: false`` for APIs
    that return newest first. See :class:`collectorkit.collect.IncrementalConfig`.
    """

    timestamp_field: str
    id_field: str | None = "id"
    start_param: str | None = None
    end_param: str | None = None
    param_location: Literal["query", "body"] = "query"
    time_format: str = "iso8601"
    timestamp_unit: Literal["auto", "s", "ms"] = "auto"
    initial_lookback: Duration = 7 * 86400.0
    overlap: Duration = 0.0
    end_lag: Duration = 0.0
    max_window: Duration | None = None
    max_boundary_ids: int = Field(default=10_000, ge=1)
    ordered: bool = True


class ShardConfig(StrictModel):
    """One slice of a ``concurrent`` collection, with its own state key."""

    state_key: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    json_body: dict[str, Any] | None = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)


class RequestConfig(StrictModel):
    """What to request and where the records are in the response (``data_path``, dotted)."""

    endpoint: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH"] = "GET"
    params: dict[str, Any] = Field(default_factory=dict)
    json_body: dict[str, Any] | None = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    data_path: str | None = None
    pagination: PaginationConfig = Field(default_factory=NoPaginationConfig)
    incremental: IncrementalConfig | None = None
    shards: list[ShardConfig] = Field(default_factory=list)
    state_key: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _upper_method(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            return {**data, "method": data["method"].upper()}
        return data
