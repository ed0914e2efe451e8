"""Request and response bodies of the storage service (they shape its OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DeleteResult",
    "HealthOut",
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


class WatermarkListOut(BaseModel):
    count: int
    watermarks: list[WatermarkListItem]


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


class StatusOut(BaseModel):
    status: str
    store: str
    store_reachable: bool
    watermarks: int
    failed_sources: list[str]
    oldest_watermark_age_seconds: float | None
    uptime_seconds: float
