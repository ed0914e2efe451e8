"""The vendor shapes by profile kind."""

from __future__ import annotations

from collectorkit.simulator._engine import VendorAPI
from collectorkit.simulator._vendor_generic import GenericAPI

__all__ = ["VENDORS"]

VENDORS: dict[str, type[VendorAPI]] = {
    "generic": GenericAPI,
}
