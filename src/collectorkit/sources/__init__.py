"""collectorkit.sources."""

__all__: list[str] = []
