"""collectorkit.collect."""

__all__: list[str] = []
