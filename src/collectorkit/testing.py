"""Helpers for testing collectors and plug-ins: fake clock, mock transport, memory stores, sinks.

Our own tests use these; so can yours.
"""

from __future__ import annotations

from collectorkit._clock import FakeClock

__all__ = ["FakeClock"]
