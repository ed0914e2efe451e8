"""Request and response bodies of the storage service (they shape its OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DeleteResult",
    "ErrorOut",
    "HealthOut",
    "MalformedWatermark",
    "StateItemOut",
    "StateListOut",
    "StatePutIn",
    "StatePutOut",
    "StatusOut",
    "WatermarkIn",
    "WatermarkListOut",
    "WatermarkOut",
]


class WatermarkIn(BaseModel):
    """One collection run. ``timestamp`` is required unless ``status`` is ``failed``."""

    model_config = ConfigDict(extra="forbid")

    timestamp: str | float | None = Field(
        default=None, description="Newest delivered record time, ISO 8601 ('…Z' = UTC)"
    )
    status: str = Field(description="success, partial or failed")
    error_message: str | None = Field(default=None, max_length=4000)
    records_collected: int = Field(default=0, ge=0)


class WatermarkOut(BaseModel):
    source_id: str
    last_successful_timestamp: str | None
    last_run_timestamp: str
    status: str
    records_collected: int
    error_message: str | None


class WatermarkListItem(WatermarkOut):
    age_seconds: float | None = Field(description="Seconds since last_successful_timestamp")


class MalformedWatermark(BaseModel):
    source_id: str
    reason: str


class WatermarkListOut(BaseModel):
    count: int
    watermarks: list[WatermarkListItem]
    malformed: list[MalformedWatermark] = Field(
        default_factory=list, description="Stored records that could not be read (skipped)"
    )


class DeleteResult(BaseModel):
    deleted: bool


class StatePutIn(BaseModel):
    """``if_version``: null writes unconditionally, 0 only creates, n only replaces version n."""

    model_config = ConfigDict(extra="forbid")

    value: dict[str, Any]
    if_version: int | None = Field(default=None, ge=0)


class StatePutOut(BaseModel):
    version: int


class StateItemOut(BaseModel):
    value: dict[str, Any]
    version: int
    updated_at: float


class StateListOut(BaseModel):
    items: dict[str, StateItemOut]


class HealthOut(BaseModel):
    status: str
    detail: str | None = Field(default=None, description="Why the service is unhealthy")


class FieldErrorOut(BaseModel):
    field: str = Field(description="Where in the request: body.status, path.source_id …")
    message: str


class ErrorOut(BaseModel):
    """Every error body (4xx and 5xx): ``detail`` always; ``field`` names the offending field of
    a rejected value; ``errors`` lists each problem of a request that failed validation."""

    detail: str
    field: str | None = None
    errors: list[FieldErrorOut] | None = None


class StatusOut(BaseModel):
    status: str
    store: str
    store_reachable: bool
    watermarks: int
    failed_sources: list[str]
    malformed_watermarks: list[str] = Field(
        default_factory=list, description="Source ids whose stored record could not be read"
    )
    oldest_watermark_age_seconds: float | None
    uptime_seconds: float
    detail: str | None = Field(default=None, description="Why the store is not reachable")
