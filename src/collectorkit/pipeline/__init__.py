"""collectorkit.pipeline."""

__all__: list[str] = []
