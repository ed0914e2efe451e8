"""collectorkit.service."""

__all__: list[str] = []
