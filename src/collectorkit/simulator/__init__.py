"""collectorkit.simulator."""

__all__: list[str] = []
