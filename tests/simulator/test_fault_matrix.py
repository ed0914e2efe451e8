"""Duplicates and never-ending cursors on every cursor-paged vendor, through one page stepper."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest

from collectorkit.simulator import FaultSpec, SimulatorServer
from collectorkit.simulator._reset import _TRANSPORTS
from collectorkit.simulator._timefmt import iso
from tests.simulator.conftest import RECORDS
from tests.simulator.walkers import graph_token

Step = Callable[[Any], tuple[list[dict[str, Any]], Any]]
"""Fetch one page from a state (None = first page); return its records and the next state."""


def stepper(kind: str, sim: SimulatorServer, client: httpx.Client) -> tuple[Step, str]:
    """A page stepper for ``kind`` and the record's id field."""
    base = sim.url(_target(kind))
    if kind == "generic":
        h = {"Authorization": "Bearer sim-generic-token"}

        def generic(cursor: Any) -> tuple[list[dict[str, Any]], Any]:
            params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            body = client.get(base + "/v1/events", params=params, headers=h).json()
            return body["data"]["events"], body["meta"]["next_cursor"]

        return generic, "id"
    if kind in ("okta", "okta-bounded"):
        h = {"Authorization": "SSWS sim-okta-token"}
        params = {"limit": 50}
        if kind == "okta-bounded":
            now = sim.simulator.clock.time()
            params["until"] = iso(int(now + 86_400) * 1000)
            params["since"] = iso(int(now - 10 * 86_400) * 1000)
        base = sim.url("okta")

        def okta(nxt: Any) -> tuple[list[dict[str, Any]], Any]:
            r = (
                client.get(nxt, headers=h)
                if nxt
                else client.get(base + "/api/v1/logs", params=params, headers=h)
            )
            return r.json(), r.links.get("next", {}).get("url")

        return okta, "uuid"
    if kind == "graph":
        token = graph_token(client, sim.credentials("graph"))["access_token"]
        h = {"Authorization": f"Bearer {token}"}

        def graph(nxt: Any) -> tuple[list[dict[str, Any]], Any]:
            r = client.get(
                nxt or base + "/v1.0/security/alerts_v2",
                params=None if nxt else {"$top": 50},
                headers=h,
            )
            return r.json()["value"], r.json().get("@odata.nextLink")

        return graph, "id"
    if kind == "github":
        h = {"Authorization": "Bearer sim-github-token"}

        def github(nxt: Any) -> tuple[list[dict[str, Any]], Any]:
            r = client.get(
                nxt or sim.credentials("github")["url"],
                params=None if nxt else {"per_page": 50},
                headers=h,
            )
            return r.json(), r.links.get("next", {}).get("url")

        return github, "_document_id"
    if kind == "slack":
        h = {"Authorization": "Bearer xoxp-sim-slack-token"}

        def slack(cursor: Any) -> tuple[list[dict[str, Any]], Any]:
            params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            body = client.get(base + "/audit/v1/logs", params=params, headers=h).json()
            return body["entries"], body["response_metadata"]["next_cursor"] or None

        return slack, "id"
    if kind == "otx":
        h = {"X-OTX-API-KEY": "sim-otx-token"}

        def otx(nxt: Any) -> tuple[list[dict[str, Any]], Any]:
            url = nxt or base + "/api/v1/pulses/subscribed?limit=50"
            body = client.get(url, headers=h).json()
            return body["results"], body["next"]

        return otx, "id"
    if kind == "crowdstrike":
        creds = sim.credentials("crowdstrike")
        form = {"client_id": creds["client_id"], "client_secret": creds["client_secret"]}
        token = client.post(creds["token_url"], data=form).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}

        def crowdstrike(after: Any) -> tuple[list[dict[str, Any]], Any]:
            body = {
                "limit": 50,
                "sort": "created_timestamp|asc",
                **({"after": after} if after else {}),
            }
            doc = client.post(base + "/alerts/combined/alerts/v1", json=body, headers=h).json()
            return doc["resources"], doc["meta"]["pagination"].get("after")

        return crowdstrike, "composite_id"
    h = {"Authorization": "Bearer sim-onepassword-token"}

    def onepassword(cursor: Any) -> tuple[list[dict[str, Any]], Any]:
        doc = client.post(
            base + "/api/v1/signinattempts",
            json={"cursor": cursor} if cursor else {"limit": 50},
            headers=h,
        ).json()
        return doc["items"], doc["cursor"] if doc["has_more"] else None

    return onepassword, "uuid"


KINDS = [
    "generic",
    "okta",
    "okta-bounded",
    "graph",
    "github",
    "slack",
    "onepassword",
    "otx",
    "crowdstrike",
]


def _target(kind: str) -> str:
    return kind.split("-")[0]


@pytest.mark.parametrize("kind", KINDS)
def test_duplicates_fault_repeats_the_previous_tail(
    sim: SimulatorServer, client: httpx.Client, kind: str
) -> None:
    step, id_field = stepper(kind, sim, client)
    sim.add_faults(FaultSpec(kind="duplicates", target=_target(kind), requests=[3], count=3))
    seen: list[str] = []
    state = None
    for _ in range(20):
        page, state = step(state)
        if not page:
            break
        seen += [str(r[id_field]) for r in page]
        if state is None:
            break
    assert len(seen) == RECORDS + 3
    assert seen[97:100] == seen[100:103]  # page 3 starts with page 2's last three
    assert set(sim.ledger.duplicates(_target(kind)).values()) == {2}
    assert len(sim.ledger.duplicates(_target(kind))) == 3


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "okta"])
def test_never_ending_cursor_keeps_going_with_empty_pages(
    sim: SimulatorServer, client: httpx.Client, kind: str
) -> None:
    step, id_field = stepper(kind, sim, client)
    sim.add_faults(FaultSpec(kind="never_ending", target=_target(kind)))
    seen: set[str] = set()
    state = None
    empty = 0
    for _ in range(8):
        page, state = step(state)
        assert state, "the cursor must not run out"
        seen |= {str(r[id_field]) for r in page}
        empty += not page
    assert len(seen) == RECORDS
    assert empty == 3


def test_okta_polling_link_never_ends_without_a_fault(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    step, _ = stepper("okta", sim, client)
    state, sizes = None, []
    for _ in range(7):
        page, state = step(state)
        assert state
        sizes.append(len(page))
    assert sizes == [50, 50, 50, 50, 37, 0, 0]


def test_connections_have_nagle_off(sim: SimulatorServer, client: httpx.Client) -> None:
    client.get(sim.base_url + "/_sim/stats")
    port = int(sim.base_url.rsplit(":", 1)[1])
    mine = [t for (server, _), t in list(_TRANSPORTS.items()) if server and server[1] == port]
    assert mine
    sock = mine[0].get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
