"""collectorkit.http."""

__all__: list[str] = []
