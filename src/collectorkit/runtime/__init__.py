"""collectorkit.runtime."""

__all__: list[str] = []
