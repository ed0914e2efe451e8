"""Every fault kind is observable as specified, on a real server with a plain client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime

import httpx2 as httpx
import pytest

from collectorkit import FakeClock
from collectorkit.simulator import FaultSpec, ProfileConfig, SimulatorConfig, SimulatorServer
from tests.simulator.conftest import RECORDS
from tests.simulator.walkers import graph_token, walk_generic, walk_onepassword, walk_xdr

GEN = {"Authorization": "Bearer sim-generic-token"}


@contextmanager
def fresh(
    *kinds: str, records: int = 150, faults: tuple[FaultSpec, ...] = (), **kw: object
) -> Iterator[SimulatorServer]:
    """A private server for tests that change the records."""
    profiles = tuple(ProfileConfig(kind=k, records=records) for k in kinds)
    with SimulatorServer(SimulatorConfig(seed=5, profiles=profiles, faults=faults, **kw)) as sim:  # type: ignore[arg-type]
        yield sim


def _statuses(client: httpx.Client, url: str, n: int, headers: dict[str, str] = GEN) -> list[int]:
    return [client.get(url, params={"limit": 5}, headers=headers).status_code for _ in range(n)]


def test_rate_limit_every_nth_with_retry_after_seconds(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.add_faults(FaultSpec(kind="rate_limit", target="generic", every=2, retry_after=3))
    url = sim.url("generic") + "/v1/events"
    responses = [client.get(url, headers=GEN) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 429, 200, 429]
    assert responses[1].headers["Retry-After"] == "3"
    assert responses[1].headers["X-RateLimit-Remaining"] == "0"
    assert sim.stats.snapshot()["faults"] == {"rate_limit": 2}
    assert sim.ledger.pages("generic") == 2  # a 429 serves nothing


def test_rate_limit_http_date(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.add_faults(
        FaultSpec(
            kind="rate_limit", target="generic", retry_after=30, retry_after_format="http-date"
        )
    )
    r = client.get(sim.url("generic") + "/v1/events", headers=GEN)
    assert r.status_code == 429
    when = parsedate_to_datetime(r.headers["Retry-After"]).timestamp()
    assert 25 <= when - time.time() <= 32


def test_rate_limit_vendor_dialects(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.add_faults(
        FaultSpec(kind="rate_limit", target="okta", retry_after=10),
        FaultSpec(kind="rate_limit", target="github", status=403, retry_after=5),
        FaultSpec(kind="rate_limit", target="onepassword"),
        FaultSpec(kind="rate_limit", target="slack", retry_after=2),
        FaultSpec(kind="rate_limit", target="xdr", retry_after=4),
    )
    okta = client.get(
        sim.url("okta") + "/api/v1/logs", headers={"Authorization": "SSWS sim-okta-token"}
    )
    assert okta.status_code == 429
    assert okta.json()["errorCode"] == "E0000047"
    assert okta.headers["X-Rate-Limit-Remaining"] == "0"
    assert "Retry-After" not in okta.headers
    assert 8 <= int(okta.headers["X-Rate-Limit-Reset"]) - time.time() <= 12
    gh = client.get(
        sim.credentials("github")["url"], headers={"Authorization": "Bearer sim-github-token"}
    )
    assert gh.status_code == 403
    assert gh.headers["x-ratelimit-remaining"] == "0"
    assert gh.headers["retry-after"] == "5"
    assert "rate limit" in gh.json()["message"]
    op = client.post(
        sim.url("onepassword") + "/api/v1/signinattempts",
        json={},
        headers={"Authorization": "Bearer sim-onepassword-token"},
    )
    assert op.status_code == 429
    assert "Retry-After" not in op.headers
    sl = client.get(
        sim.url("slack") + "/audit/v1/logs",
        headers={"Authorization": "Bearer xoxp-sim-slack-token"},
    )
    assert sl.json() == {"ok": False, "error": "ratelimited"}
    assert sl.headers["Retry-After"] == "2"
    creds = sim.credentials("xdr")
    xdr = client.post(
        sim.url("xdr") + "/public_api/v1/alerts/get_alerts",
        json={"request_data": {}},
        headers={"Authorization": creds["api_key"], "x-xdr-auth-id": "1"},
    )
    assert xdr.status_code == 429
    assert xdr.json()["reply"]["err_code"] == 429


def test_graph_429_and_real_budget() -> None:
    clock = FakeClock(start=1_800_000_000.0)
    profile = ProfileConfig(kind="okta", records=20, rate_limit_per_minute=3)
    with (
        SimulatorServer(SimulatorConfig(seed=1, profiles=(profile,), clock=clock)) as sim,
        httpx.Client() as client,
    ):
        h = {"Authorization": "SSWS sim-okta-token"}
        url = sim.url("okta") + "/api/v1/logs"
        got = [client.get(url, headers=h) for _ in range(4)]
        assert [r.status_code for r in got] == [200, 200, 200, 429]
        assert [r.headers["X-Rate-Limit-Remaining"] for r in got] == ["2", "1", "0", "0"]
        assert got[3].headers["X-Rate-Limit-Reset"] == str(
            int(clock.time()) - int(clock.time()) % 60 + 60
        )
        clock.advance(60)
        assert client.get(url, headers=h).status_code == 200


def test_server_error_burst_by_schedule(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.add_faults(FaultSpec(kind="server_error", target="generic", requests="3-5", status=502))
    assert _statuses(client, sim.url("generic") + "/v1/events", 7) == [
        200,
        200,
        502,
        502,
        502,
        200,
        200,
    ]


def test_server_error_with_retry_after(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.add_faults(
        FaultSpec(
            kind="server_error", target="graph.*", retry_after=7, retry_after_format="seconds"
        )
    )
    r = client.post(
        sim.credentials("graph")["token_url"], data={"grant_type": "client_credentials"}
    )
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == "serviceNotAvailable"


def test_server_error_burst_length(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.add_faults(
        FaultSpec(kind="server_error", target="generic", requests=[2], burst=3, max_times=3)
    )
    assert _statuses(client, sim.url("generic") + "/v1/events", 6) == [200, 503, 503, 503, 200, 200]


def test_reset_closes_the_socket_without_a_response(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.add_faults(FaultSpec(kind="reset", target="generic", requests=[1]))
    url = sim.url("generic") + "/v1/events"
    with pytest.raises(httpx.TransportError) as info:
        client.get(url, headers=GEN)
    assert isinstance(info.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert client.get(url, headers=GEN).status_code == 200  # a new connection works
    assert sim.stats.snapshot()["faults"] == {"reset": 1}
    assert sim.stats.snapshot()["statuses"] == {"reset": 1, "200": 1}
    assert sim.ledger.pages("generic") == 1


def test_slow_response_trips_a_client_timeout(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.add_faults(FaultSpec(kind="slow", target="generic", delay=0.4, max_times=2))
    url = sim.url("generic") + "/v1/events"
    t0 = time.monotonic()
    assert client.get(url, headers=GEN).status_code == 200
    assert time.monotonic() - t0 >= 0.4
    with pytest.raises(httpx.ReadTimeout):
        client.get(url, headers=GEN, timeout=0.1)
    deadline = time.monotonic() + 3  # the server ends its delay, sees the client gone
    while "client_gone" not in sim.stats.snapshot()["statuses"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.ledger.pages("generic") == 1  # and serves nothing
    assert sim.stats.snapshot()["statuses"] == {"200": 1, "client_gone": 1}


def test_malformed_page_is_not_json_and_not_served(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.add_faults(FaultSpec(kind="malformed", target="generic", requests=[1]))
    r = client.get(sim.url("generic") + "/v1/events", headers=GEN)
    assert r.status_code == 200
    with pytest.raises(ValueError, match=r"(?i)json|char|delimiter|value"):
        r.json()
    assert sim.ledger.served("generic") == {}
    assert client.get(sim.url("generic") + "/v1/events", headers=GEN).json()["data"]["events"]


def test_token_expiry_fault_revokes_the_token(sim: SimulatorServer, client: httpx.Client) -> None:
    creds = sim.credentials("graph")
    token = graph_token(client, creds)["access_token"]
    sim.add_faults(FaultSpec(kind="token_expiry", target="graph", requests=[2]))
    url = sim.url("graph") + "/v1.0/security/alerts_v2"
    h = {"Authorization": f"Bearer {token}"}
    assert client.get(url, headers=h).status_code == 200
    r = client.get(url, headers=h)
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]
    assert client.get(url, headers=h).status_code == 401  # the token stays dead
    fresh_token = graph_token(client, creds)["access_token"]  # the token endpoint is not a target
    assert client.get(url, headers={"Authorization": f"Bearer {fresh_token}"}).status_code == 200


def test_token_lifetime_with_fake_clock() -> None:
    clock = FakeClock()
    profile = ProfileConfig(kind="graph", records=10, token_lifetime=120)
    with (
        SimulatorServer(SimulatorConfig(profiles=(profile,), clock=clock)) as sim,
        httpx.Client() as client,
    ):
        tok = graph_token(client, sim.credentials("graph"))
        assert tok["expires_in"] == 120
        url = sim.url("graph") + "/v1.0/security/alerts_v2"
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        clock.advance(119)
        assert client.get(url, headers=h).status_code == 200
        clock.advance(2)
        r = client.get(url, headers=h)
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "Access token has expired or is not yet valid."


def test_expired_cursor_fault_only_hits_cursor_requests(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.add_faults(FaultSpec(kind="expired_cursor", target="generic"))
    url = sim.url("generic") + "/v1/events"
    first = client.get(url, params={"limit": 10}, headers=GEN)
    assert first.status_code == 200
    r = client.get(url, params={"cursor": first.json()["meta"]["next_cursor"]}, headers=GEN)
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "cursor_expired"


def test_cursor_ttl_expires_for_real() -> None:
    clock = FakeClock()
    profile = ProfileConfig(kind="slack", records=30, cursor_ttl=60)
    with (
        SimulatorServer(SimulatorConfig(profiles=(profile,), clock=clock)) as sim,
        httpx.Client() as client,
    ):
        url, h = (
            sim.url("slack") + "/audit/v1/logs",
            {"Authorization": "Bearer xoxp-sim-slack-token"},
        )
        cursor = client.get(url, params={"limit": 10}, headers=h).json()["response_metadata"][
            "next_cursor"
        ]
        clock.advance(61)
        assert client.get(url, params={"cursor": cursor}, headers=h).json() == {
            "ok": False,
            "error": "invalid_cursor",
        }


def test_late_arrival_adds_old_records_mid_walk(client: httpx.Client) -> None:
    late = FaultSpec(kind="late_arrival", target="generic", requests=[2], count=3, late_by=7200)
    with fresh("generic", faults=(late,)) as sim:
        url = sim.url("generic") + "/v1/events"
        records = walk_generic(client, url, "sim-generic-token", limit=50)
        existing = sim.ledger.existing("generic")
        assert len(existing) == 153
        missed = existing - {r["id"] for r in records}
        assert len(missed) <= 3  # the late ones landed behind the cursor
        late_recs = [r for r in sim.simulator.records("generic") if r["id"] in missed]
        assert all(r["created_at"] < records[-1]["created_at"] for r in late_recs)


def test_duplicates_across_pages(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.add_faults(FaultSpec(kind="duplicates", target="generic", requests=[2], count=4))
    records = walk_generic(
        client, sim.url("generic") + "/v1/events", "sim-generic-token", limit=100
    )
    assert len(records) == RECORDS + 4
    dups = sim.ledger.duplicates("generic")
    assert len(dups) == 4
    assert set(dups.values()) == {2}
    assert [r["id"] for r in records[96:100]] == [r["id"] for r in records[100:104]]


def test_boundary_ties_at_a_page_boundary(client: httpx.Client) -> None:
    with fresh(
        "generic", faults=(FaultSpec(kind="boundary_ties", target="generic", at=50, count=10),)
    ) as sim:
        records = sim.simulator.records("generic")
        assert len({r["created_at"] for r in records[45:55]}) == 1
        assert records[44]["created_at"] != records[45]["created_at"]
        walked = walk_generic(
            client, sim.url("generic") + "/v1/events", "sim-generic-token", limit=50
        )
        assert [r["id"] for r in walked] == [r["id"] for r in records]  # keyset paging loses none


def test_update_redelivers_with_newer_update_time(client: httpx.Client) -> None:
    with fresh("onepassword", records=40) as sim:
        url = sim.url("onepassword") + "/api/v1/signinattempts"
        _, cursor = walk_onepassword(client, url, "sim-onepassword-token", {"limit": 25})
        sim.add_faults(FaultSpec(kind="update", target="onepassword", count=2))
        again = client.post(
            url, json={"cursor": cursor}, headers={"Authorization": "Bearer sim-onepassword-token"}
        ).json()
        assert len(again["items"]) == 2
        versions = sim.ledger.served_versions("onepassword")
        assert sorted(v for (_, v) in versions) == [1] * 40 + [2, 2]
        assert len(sim.ledger.duplicates("onepassword")) == 2
    with fresh("graph", records=30) as sim:
        token = graph_token(client, sim.credentials("graph"))["access_token"]
        url = sim.url("graph") + "/v1.0/security/alerts_v2"
        h = {"Authorization": f"Bearer {token}"}
        before = client.get(url, params={"$top": 100}, headers=h).json()["value"]
        ids = sim.simulator.update_records("graph", [before[0]["id"]])
        newest = client.get(
            url, params={"$orderby": "lastUpdateDateTime desc", "$top": 1}, headers=h
        ).json()["value"][0]
        assert newest["id"] == ids[0]
        assert newest["status"] == "inProgress"
        assert newest["lastUpdateDateTime"] > before[0]["lastUpdateDateTime"]


def test_offset_drift_duplicates_and_skips_in_an_offset_walk(client: httpx.Client) -> None:
    drift = FaultSpec(kind="offset_drift", target="xdr", requests=[2], count=5)
    with fresh("xdr", records=250, faults=(drift,)) as sim:
        url = sim.url("xdr") + "/public_api/v1/alerts/get_alerts_multi_events"
        alerts, total = walk_xdr(client, url, sim.credentials("xdr"), [])
        assert total == 255
        assert len(alerts) == 255
        # inserts before the offset shift the next page: its head repeats the previous tail,
        # and the inserted records are never reached, one skipped record per duplicate
        dups = sim.ledger.duplicates("xdr")
        comparison = sim.ledger.compare("xdr", [a["alert_id"] for a in alerts])
        assert comparison.ok
        assert 1 <= len(dups) == len(comparison.never_served) <= 5
        assert len({a["alert_id"] for a in alerts}) == 255 - len(dups)


def test_never_ending_cursor(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.add_faults(FaultSpec(kind="never_ending", target="generic"))
    url = sim.url("generic") + "/v1/events"
    seen, cursor, empties = 0, None, 0
    for _ in range(10):
        body = client.get(
            url, params={"limit": 100, **({"cursor": cursor} if cursor else {})}, headers=GEN
        ).json()
        seen += len(body["data"]["events"])
        cursor = body["meta"]["next_cursor"]
        assert cursor  # the cursor never runs out
        empties += not body["data"]["events"]
    assert seen == RECORDS
    assert empties == 7


def test_probability_faults_are_reproducible(client: httpx.Client) -> None:
    def pattern() -> list[int]:
        spec = FaultSpec(kind="server_error", target="generic", probability=0.3)
        with fresh("generic", records=5, faults=(spec,)) as sim:
            return _statuses(client, sim.url("generic") + "/v1/events", 30)

    first = pattern()
    assert first == pattern()
    assert 3 <= first.count(503) <= 18


def test_xdr_late_alerts_are_found_by_insert_time_not_by_creation_time(
    client: httpx.Client,
) -> None:
    with fresh("xdr", records=50) as sim:
        creds = sim.credentials("xdr")
        url = sim.url("xdr") + "/public_api/v2/alerts/get_alerts_multi_events"
        now_ms = int(sim.simulator.clock.time() * 1000)
        late = set(sim.add_records("xdr", 4, late_by=3600))
        recent_insert = [
            {"field": "server_creation_time", "operator": "gte", "value": now_ms - 1000}
        ]
        found, _ = walk_xdr(client, url, creds, recent_insert)
        assert {a["alert_id"] for a in found} == late
        assert all(a["server_creation_time"] - a["creation_time"] >= 3_600_000 for a in found)
        recent_creation = [{"field": "creation_time", "operator": "gte", "value": now_ms - 600_000}]
        window, _ = walk_xdr(client, url, creds, recent_creation)
        assert not late & {a["alert_id"] for a in window}  # a creation-time watermark misses them


def test_xdr_deep_offset_cap(client: httpx.Client) -> None:
    profile = ProfileConfig(kind="xdr", records=30, max_offset=20)
    with SimulatorServer(SimulatorConfig(profiles=(profile,))) as sim:
        creds = sim.credentials("xdr")
        h = {"Authorization": creds["api_key"], "x-xdr-auth-id": creds["api_key_id"]}
        url = sim.url("xdr") + "/public_api/v1/alerts/get_alerts"
        ok = client.post(
            url, json={"request_data": {"search_from": 10, "search_to": 20}}, headers=h
        )
        assert ok.status_code == 200
        r = client.post(url, json={"request_data": {"search_from": 20, "search_to": 30}}, headers=h)
        assert r.status_code == 500
        assert "maximum offset" in r.json()["reply"]["err_extra"]
