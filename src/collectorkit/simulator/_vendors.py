"""The vendor shapes by profile kind."""

from __future__ import annotations

from collectorkit.simulator._engine import VendorAPI
from collectorkit.simulator._vendor_crowdstrike import CrowdStrikeAPI
from collectorkit.simulator._vendor_generic import GenericAPI
from collectorkit.simulator._vendor_github import GitHubAPI
from collectorkit.simulator._vendor_graph import GraphAPI
from collectorkit.simulator._vendor_okta import OktaAPI
from collectorkit.simulator._vendor_onepassword import OnePasswordAPI
from collectorkit.simulator._vendor_otx import OTXAPI
from collectorkit.simulator._vendor_slack import SlackAPI
from collectorkit.simulator._vendor_splunk_hec import SplunkHECAPI
from collectorkit.simulator._vendor_xdr import XDRAPI

__all__ = ["VENDORS"]

VENDORS: dict[str, type[VendorAPI]] = {
    "crowdstrike": CrowdStrikeAPI,
    "otx": OTXAPI,
    "generic": GenericAPI,
    "github": GitHubAPI,
    "graph": GraphAPI,
    "okta": OktaAPI,
    "onepassword": OnePasswordAPI,
    "slack": SlackAPI,
    "splunk_hec": SplunkHECAPI,
    "xdr": XDRAPI,
}
