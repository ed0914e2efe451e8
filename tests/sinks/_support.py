"""What several sink tests share: a blueprint over the simulator's generic ``/v1/events``."""

from __future__ import annotations

from collectorkit import (
    BearerTokenAuthHandler,
    CollectorBlueprint,
    CollectorRequest,
    PaginationConfig,
    RetryPolicy,
)

__all__ = ["generic_blueprint"]


def generic_blueprint(base: str, *, page_size: int = 25) -> CollectorBlueprint:
    """Cursor paging over the simulator's generic events (``sim.url("generic")``), as ``sim``."""
    return CollectorBlueprint(
        name="sim",
        base_url=base,
        request=CollectorRequest(
            endpoint="/v1/events",
            data_path="data.events",
            pagination=PaginationConfig(
                mode="cursor",
                cursor_param="cursor",
                next_cursor_path="meta.next_cursor",
                page_size_param="limit",
                page_size=page_size,
            ),
        ),
        auth_handler=BearerTokenAuthHandler("sim-generic-token"),
        retry_policy=RetryPolicy(max_attempts=4, initial_delay=0.01),
    )
