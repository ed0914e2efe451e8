"""The ledger's accuracy, the admin API (/_sim/...) and run-time fault injection."""

from __future__ import annotations

import httpx2 as httpx

from collectorkit.simulator import ProfileConfig, SimulatorConfig, SimulatorServer
from tests.simulator.conftest import RECORDS
from tests.simulator.walkers import walk_generic, walk_okta_polling

GEN = {"Authorization": "Bearer sim-generic-token"}


def test_ledger_matches_what_a_client_received(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("generic") + "/v1/events"
    records = walk_generic(client, url, "sim-generic-token", limit=64)
    okta, _ = walk_okta_polling(
        client, sim.url("okta") + "/api/v1/logs", "sim-okta-token", {"limit": 200}
    )
    ids = [r["id"] for r in records]
    assert sim.ledger.served("generic") == dict.fromkeys(ids, 1)
    assert sim.ledger.served_ids("okta") == {e["uuid"] for e in okta}
    assert sim.ledger.existing("generic") == set(ids)
    assert sim.ledger.compare("generic", ids).ok
    partial = sim.ledger.compare("generic", [*ids[1:], "bogus"])
    assert not partial.ok
    assert partial.lost == {ids[0]}
    assert partial.unexpected == {"bogus"}
    assert sim.ledger.duplicates("generic") == {}
    assert sim.ledger.served("xdr") == {}
    client.get(sim.url("generic") + "/v1/alerts", params={"limit": 2}, headers=GEN)
    by_endpoint = sim.ledger.served_by_endpoint("generic")
    assert by_endpoint["events"] == dict.fromkeys(ids, 1)
    assert by_endpoint["alerts"] == dict.fromkeys(ids[:2], 1)


def test_admin_api_can_be_switched_off(client: httpx.Client) -> None:
    cfg = SimulatorConfig(admin=False, profiles=(ProfileConfig(kind="generic", records=1),))
    with SimulatorServer(cfg) as sim:
        assert client.get(sim.base_url + "/_sim/ledger").status_code == 404
        assert client.get(sim.url("generic") + "/v1/events", headers=GEN).status_code == 200


def test_ledger_and_stats_endpoints(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("generic") + "/v1/events"
    records = walk_generic(client, url, "sim-generic-token", limit=100)
    client.get(url)  # 401
    doc = client.get(sim.base_url + "/_sim/ledger", params={"profile": "generic"}).json()["generic"]
    assert doc["served"] == {r["id"]: 1 for r in records}
    assert doc["existing_count"] == doc["served_unique"] == doc["served_total"] == RECORDS
    assert doc["pages"] == 3
    assert doc["never_served"] == []
    assert doc["served_by_endpoint"] == {"events": RECORDS}
    assert set(client.get(sim.base_url + "/_sim/ledger").json()) >= {"okta", "graph", "xdr"}
    assert client.get(sim.base_url + "/_sim/ledger", params={"profile": "nope"}).status_code == 404
    stats = client.get(sim.base_url + "/_sim/stats").json()
    assert stats["requests"]["generic.events"] == 4
    assert stats["statuses"] == {"200": 3, "401": 1}
    assert stats["records_served"]["generic.events"] == RECORDS
    assert client.post(sim.base_url + "/_sim/reset").json() == {"ok": True}
    assert sim.ledger.served("generic") == {}


def test_faults_at_run_time_through_the_admin_api(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    admin = sim.base_url + "/_sim/faults"
    url = sim.url("generic") + "/v1/events"
    r = client.post(
        admin, json={"kind": "server_error", "target": "generic", "requests": "1-2", "status": 500}
    )
    assert r.status_code == 200
    assert r.json()["faults"][0]["requests"] == [1, 2]
    assert [client.get(url, headers=GEN).status_code for _ in range(3)] == [500, 500, 200]
    listed = client.get(admin).json()["faults"]
    assert listed[0]["seen"] == 3
    assert listed[0]["injected"] == 2
    replaced = client.post(
        admin, json={"mode": "replace", "faults": [{"kind": "rate_limit", "target": "generic"}]}
    )
    assert [f["kind"] for f in replaced.json()["faults"]] == ["rate_limit"]
    assert client.get(url, headers=GEN).status_code == 429
    assert client.delete(admin).json() == {"faults": []}
    assert client.get(url, headers=GEN).status_code == 200
    bad = client.post(admin, json=[{"kind": "server_error", "probability": 2}])
    assert bad.status_code == 400
    assert "faults[0].probability" in bad.json()["error"]
    assert client.post(admin, content=b"{nope").status_code == 400


def test_records_and_index_endpoints(sim: SimulatorServer, client: httpx.Client) -> None:
    before = len(sim.ledger.existing("slack"))
    r = client.post(
        sim.base_url + "/_sim/records", json={"profile": "slack", "count": 2, "late_by": 60}
    )
    assert r.status_code == 200
    assert len(r.json()["ids"]) == 2
    assert len(sim.ledger.existing("slack")) == before + 2
    upd = client.post(
        sim.base_url + "/_sim/records", json={"profile": "slack", "update": r.json()["ids"]}
    )
    assert upd.json()["ids"] == r.json()["ids"]
    assert client.post(sim.base_url + "/_sim/records", json={"count": 1}).status_code == 400
    index = client.get(sim.base_url + "/_sim").json()
    okta = index["profiles"]["okta"]
    assert okta["kind"] == "okta"
    assert okta["base_url"] == sim.url("okta")
    assert okta["endpoints"]["logs"] == [sim.url("okta") + "/api/v1/logs"]
    assert index["profiles"]["graph"]["credentials"]["token_url"].startswith(sim.url("graph"))


def test_server_conveniences(sim: SimulatorServer) -> None:
    before = sim.records("okta")
    new = sim.add_records("okta", 2, late_by=30)
    assert sim.update_records("okta", [new[0], "missing"]) == [new[0]]
    after = {r["uuid"]: r for r in sim.records("okta")}
    assert len(after) == len(before) + 2
    assert sim.ledger.existing("okta") == set(after)
