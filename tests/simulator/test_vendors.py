"""Each vendor endpoint pages to its end with a plain client, as the vendor documentation says."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from typing import Any

import httpx2 as httpx
import jwt
import pytest

from collectorkit.simulator import FaultSpec, SimulatorServer
from tests.simulator.conftest import RECORDS
from tests.simulator.walkers import (
    graph_token,
    walk_generic,
    walk_graph,
    walk_links,
    walk_okta_polling,
    walk_onepassword,
    walk_slack,
    walk_xdr,
)


def _ids(records: list[dict], key: str) -> list[str]:
    return [str(r[key]) for r in records]


def test_generic_cursor_walk(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("generic") + "/v1/events"
    records = walk_generic(client, url, "sim-generic-token", limit=50)
    ids = _ids(records, "id")
    assert len(ids) == len(set(ids)) == RECORDS
    stamps = [(r["created_at"], r["id"]) for r in records]
    assert stamps == sorted(stamps)
    assert sim.ledger.served("generic") == dict.fromkeys(ids, 1)
    assert sim.ledger.pages("generic") == -(-RECORDS // 50)


def test_generic_since_until_and_modes(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("generic") + "/v1/events"
    everything = walk_generic(client, url, "sim-generic-token", limit=1000)
    middle = everything[100]["created_at"]
    later = everything[150]["created_at"]
    part = walk_generic(client, url, "sim-generic-token", limit=7, since=middle, until=later)
    expected = [r["id"] for r in everything if middle <= r["created_at"] < later]
    assert _ids(part, "id") == expected
    # page / offset modes see the same ordering
    h = {"X-API-Key": "sim-generic-token"}
    pages = [
        client.get(url, params={"page": n, "per_page": 100}, headers=h).json() for n in (1, 2, 3)
    ]
    assert pages[0]["meta"]["total_pages"] == 3
    assert [e["id"] for p in pages for e in p["data"]["events"]] == _ids(everything, "id")
    off = client.get(url, params={"offset": 230, "limit": 100}, headers=h).json()
    assert _ids(off["data"]["events"], "id") == _ids(everything[230:], "id")
    alerts = client.get(sim.url("generic") + "/v1/alerts", params={"limit": 3}, headers=h).json()
    assert len(alerts["data"]["alerts"]) == 3


def test_generic_rejects_bad_input(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("generic") + "/v1/events"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    h = {"Authorization": "Bearer sim-generic-token"}
    r = client.get(url, params={"limit": 5000}, headers=h)
    assert r.status_code == 400
    assert "limit" in r.json()["error"]["message"]
    assert client.get(url, params={"since": "yesterday"}, headers=h).status_code == 400
    assert client.get(url, params={"cursor": "forged"}, headers=h).status_code == 400


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_xdr_offset_walk(sim: SimulatorServer, client: httpx.Client, version: str) -> None:
    creds = sim.credentials("xdr")
    url = sim.url("xdr") + f"/public_api/{version}/alerts/get_alerts_multi_events"
    alerts, total = walk_xdr(client, url, creds, [])
    assert total == RECORDS == len({a["alert_id"] for a in alerts})
    times = [a["creation_time"] for a in alerts]
    assert times == sorted(times)
    assert all(isinstance(a["alert_id"], str) for a in alerts)
    if version == "v1":
        assert alerts[0]["events"][0]["event_timestamp"] == alerts[0]["creation_time"]
    else:
        assert alerts[0]["events"] is None
        assert alerts[0]["event_timestamp"] == [alerts[0]["creation_time"]]


def test_xdr_filters_window_and_sort(sim: SimulatorServer, client: httpx.Client) -> None:
    creds = sim.credentials("xdr")
    url = sim.url("xdr") + "/public_api/v1/alerts/get_alerts_multi_events/"
    alerts, _ = walk_xdr(client, url, creds, [])
    lo, hi = alerts[20]["creation_time"], alerts[120]["creation_time"]
    window = [
        {"field": "creation_time", "operator": "gte", "value": lo},
        {"field": "creation_time", "operator": "lte", "value": hi},
        {"field": "severity", "operator": "in", "value": ["high", "critical"]},
    ]
    got, total = walk_xdr(client, url, creds, window, page=30)
    expected = [
        a["alert_id"]
        for a in alerts
        if lo <= a["creation_time"] <= hi and a["severity"] in ("high", "critical")
    ]
    assert _ids(got, "alert_id") == expected
    assert total == len(expected)
    headers = {"Authorization": creds["api_key"], "x-xdr-auth-id": creds["api_key_id"]}
    body = {
        "request_data": {
            "search_from": 0,
            "search_to": 500,
            "sort": {"field": "creation_time", "keyword": "DESC"},
        }
    }
    r = client.post(url, json=body, headers=headers).json()["reply"]
    assert r["result_count"] == 100
    assert r["total_count"] == RECORDS
    desc = [a["creation_time"] for a in r["alerts"]]
    assert desc == sorted(desc, reverse=True)
    bad = client.post(
        url,
        json={"request_data": {"filters": [{"field": "x", "operator": "eq", "value": 1}]}},
        headers=headers,
    )
    assert bad.status_code == 400
    assert "err_msg" in bad.json()["reply"]
    assert client.post(url, json={}, headers=headers).status_code == 400
    assert client.get(url, headers=headers).status_code == 405


def test_xdr_auth_modes(sim: SimulatorServer, client: httpx.Client) -> None:
    creds = sim.credentials("xdr")
    url = sim.url("xdr") + "/public_api/v1/alerts/get_alerts"
    body = {"request_data": {"search_from": 0, "search_to": 1}}
    wrong = client.post(url, json=body, headers={"Authorization": "nope", "x-xdr-auth-id": "1"})
    assert wrong.status_code == 401
    assert wrong.json()["reply"]["err_code"] == 401
    nonce = "n" * 64
    stamp = str(int(sim.simulator.clock.time()) * 1000)
    digest = hashlib.sha256((creds["api_key"] + nonce + stamp).encode()).hexdigest()
    adv = {
        "Authorization": digest,
        "x-xdr-auth-id": "1",
        "x-xdr-nonce": nonce,
        "x-xdr-timestamp": stamp,
    }
    assert client.post(url, json=body, headers=adv).status_code == 200
    assert client.post(url, json=body, headers=adv).status_code == 401  # nonce replayed
    old = str(int(stamp) - 3_600_000)
    stale = {**adv, "x-xdr-nonce": "m" * 64, "x-xdr-timestamp": old}
    stale["Authorization"] = hashlib.sha256(
        (creds["api_key"] + "m" * 64 + old).encode()
    ).hexdigest()
    assert client.post(url, json=body, headers=stale).status_code == 401


def test_okta_polling_never_ends_and_continues(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("okta") + "/api/v1/logs"
    events, nxt = walk_okta_polling(client, url, "sim-okta-token", {"limit": 100})
    assert len(events) == len({e["uuid"] for e in events}) == RECORDS
    h = {"Authorization": "SSWS sim-okta-token"}
    again = client.get(nxt, headers=h)
    assert again.json() == []
    assert "next" in again.links
    assert int(again.headers["X-Rate-Limit-Remaining"]) >= 1
    assert int(again.headers["X-Rate-Limit-Reset"]) > sim.simulator.clock.time()
    assert "self" in again.links
    new_ids = sim.add_records("okta", 3, late_by=3600)
    later = client.get(again.links["next"]["url"], headers=h).json()
    assert [e["uuid"] for e in later] == new_ids  # late events arrive after newer ones
    assert later[0]["published"] < events[-1]["published"]


def test_okta_bounded_walk_ends(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("okta") + "/api/v1/logs"
    everything = sim.simulator.records("okta")
    since, until = everything[10]["published"], everything[200]["published"]
    h = {"Authorization": "SSWS sim-okta-token"}
    got, last = walk_links(client, url, h, {"since": since, "until": until, "limit": 25})
    assert _ids(got, "uuid") == [e["uuid"] for e in everything if since <= e["published"] < until]
    assert "next" not in last.links
    desc, _ = walk_links(
        client, url, h, {"since": since, "until": until, "limit": 40, "sortOrder": "DESCENDING"}
    )
    assert _ids(desc, "uuid") == _ids(got, "uuid")[::-1]
    filt = client.get(
        url,
        params={"filter": 'eventType eq "user.session.start"', "limit": 1000, "until": until},
        headers=h,
    )
    assert filt.json()
    assert all(e["eventType"] == "user.session.start" for e in filt.json())


def test_okta_errors(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("okta") + "/api/v1/logs"
    h = {"Authorization": "SSWS sim-okta-token"}
    r = client.get(url, params={"limit": 1001}, headers=h)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "E0000001"
    r = client.get(url, params={"since": "2020-01-01T00:00:00Z"}, headers=h)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "E0000053"
    assert client.get(url, params={"since": "x", "after": "y"}, headers=h).status_code == 400
    assert (
        client.get(url, params={"filter": 'published gt "x"'}, headers=h).json()["errorCode"]
        == "E0000031"
    )
    r = client.get(url, headers={"Authorization": "SSWS wrong"})
    assert r.status_code == 401
    assert r.json()["errorCode"] == "E0000011"


def test_okta_oauth_token(sim: SimulatorServer, client: httpx.Client) -> None:
    creds = sim.credentials("okta")
    claims = {
        "iss": creds["client_id"],
        "sub": creds["client_id"],
        "aud": creds["token_url"],
        "exp": int(time.time()) + 300,
    }
    form = {
        "grant_type": "client_credentials",
        "scope": "okta.logs.read",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": jwt.encode(claims, creds["private_key"], algorithm="RS256"),
    }
    tok = client.post(creds["token_url"], data=form).json()
    assert tok["token_type"] == "Bearer"
    assert tok["scope"] == "okta.logs.read"
    r = client.get(
        sim.url("okta") + "/api/v1/logs",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {tok['access_token']}"},
    )
    assert r.status_code == 200
    assert len(r.json()) == 1
    assert (
        client.post(creds["token_url"], data={**form, "scope": "okta.users.read"}).status_code
        == 400
    )


def test_graph_walk_with_token(sim: SimulatorServer, client: httpx.Client) -> None:
    tok = graph_token(client, sim.credentials("graph"))
    assert tok["expires_in"] == 3599
    assert tok["token_type"] == "Bearer"
    url = sim.url("graph") + "/v1.0/security/alerts_v2"
    alerts, pages = walk_graph(client, url, tok["access_token"], {"$top": 50, "$count": "true"})
    assert len({a["id"] for a in alerts}) == len(alerts) == RECORDS
    assert pages == 5
    created = [a["createdDateTime"] for a in alerts]
    assert created == sorted(created, reverse=True)  # newest first by default
    assert len(created[0].split(".")[1]) == 8  # 7 digits and Z
    lo = created[150]
    asc, _ = walk_graph(
        client,
        url,
        tok["access_token"],
        {"$filter": f"createdDateTime ge {lo}", "$orderby": "createdDateTime asc", "$top": 40},
    )
    assert [a["id"] for a in asc] == [a["id"] for a in alerts if a["createdDateTime"] >= lo][::-1]
    skip = client.get(
        url,
        params={"$top": 10, "$skip": 230},
        headers={"Authorization": f"Bearer {tok['access_token']}"},
    ).json()
    assert [a["id"] for a in skip["value"]] == [a["id"] for a in alerts[230:]]
    bad = client.get(
        url,
        params={"$filter": "title eq 'x'"},
        headers={"Authorization": f"Bearer {tok['access_token']}"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "BadRequest"
    static = client.get(url, headers={"Authorization": "Bearer sim-graph-token"})
    assert static.status_code == 401
    assert static.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_graph_token_errors(sim: SimulatorServer, client: httpx.Client) -> None:
    creds = sim.credentials("graph")
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": "wrong",
        "scope": creds["scope"],
    }
    r = client.post(creds["token_url"], data=form)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    r = client.post(
        creds["token_url"],
        data={**form, "client_secret": creds["client_secret"], "scope": "User.Read"},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


def test_github_walk_desc_and_asc(sim: SimulatorServer, client: httpx.Client) -> None:
    creds = sim.credentials("github")
    h = {"Authorization": f"Bearer {creds['token']}"}
    desc, last = walk_links(client, creds["url"], h, {"per_page": 100})
    assert len({e["_document_id"] for e in desc}) == len(desc) == RECORDS
    stamps = [e["@timestamp"] for e in desc]
    assert stamps == sorted(stamps, reverse=True)  # default order is desc
    assert "next" not in last.links
    assert "first" in last.links
    assert "prev" in last.links
    assert int(last.headers["x-ratelimit-remaining"]) >= 1
    assert last.headers["x-ratelimit-reset"]
    start = desc[-100]["@timestamp"]
    iso = (
        __import__("datetime")
        .datetime.fromtimestamp(start / 1000, __import__("datetime").UTC)
        .isoformat()
    )
    asc, _ = walk_links(
        client, creds["url"], h, {"phrase": f"created:>={iso}", "order": "asc", "per_page": 30}
    )
    assert [e["_document_id"] for e in asc] == [
        e["_document_id"] for e in desc if e["@timestamp"] >= start
    ][::-1]
    first = client.get(creds["url"], headers=h)
    assert len(first.json()) == 30  # default per_page
    assert "/organizations/7654321/audit-log" in first.links["next"]["url"]
    assert client.get(creds["url"], params={"per_page": 500}, headers=h).json().__len__() == 100
    assert (
        client.get(creds["url"], headers={"Authorization": "token wrong"}).json()["message"]
        == "Bad credentials"
    )
    assert client.get(sim.url("github") + "/orgs/other/audit-log", headers=h).status_code == 404


def test_github_before_cursor_goes_back(sim: SimulatorServer, client: httpx.Client) -> None:
    creds = sim.credentials("github")
    h = {"Authorization": f"token {creds['token']}"}
    p1 = client.get(creds["url"], params={"per_page": 20, "order": "asc"}, headers=h)
    p2 = client.get(p1.links["next"]["url"], headers=h)
    back = client.get(p2.links["prev"]["url"], headers=h)
    assert back.json() == p1.json()


def test_slack_walk_newest_first(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("slack") + "/audit/v1/logs"
    token = sim.credentials("slack")["token"]
    entries = walk_slack(client, url, token, limit=60)
    assert len({e["id"] for e in entries}) == len(entries) == RECORDS
    secs = [e["date_create"] for e in entries]
    assert secs == sorted(secs, reverse=True)
    assert all(isinstance(s, int) for s in secs)
    oldest, latest = secs[150], secs[20]
    part = walk_slack(client, url, token, limit=17, oldest=oldest, latest=latest)
    assert [e["id"] for e in part] == [
        e["id"] for e in entries if oldest <= e["date_create"] <= latest
    ]
    assert (
        client.get(url, headers={"Authorization": "Bearer xoxb-bot"}).json()["error"]
        == "not_allowed_token_type"
    )
    assert client.get(
        url, params={"limit": 10000}, headers={"Authorization": f"Bearer {token}"}
    ).json() == {"ok": False, "error": "invalid_arguments"}


def test_slack_walk_excludes_entries_inserted_during_it(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    url = sim.url("slack") + "/audit/v1/logs"
    h = {"Authorization": f"Bearer {sim.credentials('slack')['token']}"}
    first = client.get(url, params={"limit": 100}, headers=h).json()
    new = sim.add_records("slack", 2)
    rest = []
    cursor = first["response_metadata"]["next_cursor"]
    while cursor:
        page = client.get(url, params={"cursor": cursor}, headers=h).json()
        rest += page["entries"]
        cursor = page["response_metadata"]["next_cursor"]
    seen = {e["id"] for e in first["entries"] + rest}
    assert not seen & set(new)
    fresh = client.get(url, params={"limit": 5}, headers=h).json()["entries"]
    assert {e["id"] for e in fresh} >= set(new)


def test_onepassword_feed(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("onepassword") + "/api/v1/signinattempts"
    token = sim.credentials("onepassword")["token"]
    items, cursor = walk_onepassword(client, url, token, {"limit": 100})
    assert len({i["uuid"] for i in items}) == len(items) == RECORDS
    assert all(len(i["uuid"]) == 26 for i in items)
    assert any(i["timestamp"].endswith("-03:00") for i in items)
    h = {"Authorization": f"Bearer {token}"}
    caught_up = client.post(url, json={"cursor": cursor}, headers=h).json()
    assert caught_up["items"] == []
    assert caught_up["has_more"] is False
    assert caught_up["cursor"]
    new = sim.add_records("onepassword", 4)
    later = client.post(url, json={"cursor": caught_up["cursor"]}, headers=h).json()
    assert [i["uuid"] for i in later["items"]] == new
    assert client.post(url, json={"cursor": cursor, "limit": 5}, headers=h).status_code == 400
    assert client.post(url, json={"limit": 0}, headers=h).json()["Error"]["Message"]
    assert client.get(sim.url("onepassword") + "/api/v2/auth/introspect", headers=h).json()[
        "features"
    ] == ["signinattempts"]
    counts = Counter(sim.ledger.served("onepassword").values())
    assert counts == {1: RECORDS + 4}


def _otx_walk(client: httpx.Client, url: str, key: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    r = client.get(url, params=params or None, headers={"X-OTX-API-KEY": key}).json()
    for _ in range(100):
        out += r["results"]
        if r["next"] is None:
            return out
        r = client.get(r["next"], headers={"X-OTX-API-KEY": key}).json()
    raise AssertionError("otx walk did not end")


def test_otx_next_urls_newest_modified_first(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("otx") + "/api/v1/pulses/subscribed"
    key = sim.credentials("otx")["api_key"]
    pulses = _otx_walk(client, url, key, limit=50)
    assert len({p["id"] for p in pulses}) == len(pulses) == RECORDS
    modified = [p["modified"] for p in pulses]
    assert modified == sorted(modified, reverse=True)
    assert "Z" not in modified[0]
    assert "+" not in modified[0]
    since = modified[100]
    recent = _otx_walk(client, url, key, limit=7, modified_since=since)
    assert [p["id"] for p in recent] == [p["id"] for p in pulses if p["modified"] >= since]
    first = client.get(url, params={"limit": 20}, headers={"X-OTX-API-KEY": key}).json()
    assert first["count"] == RECORDS
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert client.get(url, headers={"X-OTX-API-KEY": "wrong"}).status_code == 403


def test_otx_update_mid_walk_skips_and_repeats(sim: SimulatorServer, client: httpx.Client) -> None:
    url = sim.url("otx") + "/api/v1/pulses/subscribed"
    h = {"X-OTX-API-KEY": sim.credentials("otx")["api_key"]}
    p1 = client.get(url, params={"limit": 50}, headers=h).json()
    everything = _otx_walk(client, url, h["X-OTX-API-KEY"], limit=50)
    moved = everything[150]["id"]
    sim.simulator.update_records("otx", [moved])
    rest = _otx_walk(client, p1["next"], h["X-OTX-API-KEY"])
    ids = [p["id"] for p in p1["results"] + rest]
    assert moved not in ids  # it jumped to page 1, behind the walk
    assert len(ids) - len(set(ids)) == 1  # and page 2 repeated page 1's last pulse
    top = client.get(url, params={"limit": 1}, headers=h).json()["results"][0]
    assert top["id"] == moved
    assert top["revision"] == 2


def _cs_headers(sim: SimulatorServer, client: httpx.Client) -> dict[str, str]:
    creds = sim.credentials("crowdstrike")
    r = client.post(
        creds["token_url"],
        data={"client_id": creds["client_id"], "client_secret": creds["client_secret"]},
    )
    assert r.status_code == 201
    assert r.json()["expires_in"] == 1799
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_crowdstrike_query_then_entities(sim: SimulatorServer, client: httpx.Client) -> None:
    h = _cs_headers(sim, client)
    base = sim.url("crowdstrike")
    ids: list[str] = []
    offset = 0
    while True:
        body = client.get(
            base + "/alerts/queries/alerts/v2", params={"offset": offset, "limit": 100}, headers=h
        ).json()
        ids += body["resources"]
        offset += len(body["resources"])
        if not body["resources"] or offset >= body["meta"]["pagination"]["total"]:
            break
    assert len(set(ids)) == len(ids) == RECORDS
    assert sim.ledger.served("crowdstrike") == {}  # ids are not records
    got = client.post(
        base + "/alerts/entities/alerts/v2", json={"composite_ids": [*ids[:5], "nope"]}, headers=h
    )
    body = got.json()
    assert got.status_code == 200
    assert [a["composite_id"] for a in body["resources"]] == ids[:5]
    assert body["errors"] == [{"code": 404, "message": "alert nope not found"}]
    created = [a["created_timestamp"] for a in body["resources"]]
    assert created == sorted(created, reverse=True)
    assert len(created[0].split(".")[1]) == 10  # nanoseconds and Z
    assert sim.ledger.served_ids("crowdstrike") == set(ids[:5])
    r = client.get(
        base + "/alerts/queries/alerts/v2", params={"offset": 9950, "limit": 100}, headers=h
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == 400
    assert (
        client.get(
            base + "/alerts/queries/alerts/v2", params={"limit": 5000}, headers=h
        ).status_code
        == 400
    )
    assert (
        client.get(
            base + "/alerts/queries/alerts/v2", headers={"Authorization": "Bearer x"}
        ).status_code
        == 401
    )


def test_crowdstrike_combined_after_walk(sim: SimulatorServer, client: httpx.Client) -> None:
    h = _cs_headers(sim, client)
    url = sim.url("crowdstrike") + "/alerts/combined/alerts/v1"
    everything = sim.simulator.records("crowdstrike")
    since = everything[37]["updated_timestamp"]
    body: dict[str, Any] = {
        "filter": f"updated_timestamp:>='{since}'",
        "sort": "updated_timestamp|asc",
        "limit": 40,
    }
    out: list[dict[str, Any]] = []
    for _ in range(20):
        doc = client.post(url, json=body, headers=h).json()
        out += doc["resources"]
        after = doc["meta"]["pagination"].get("after")
        if not after:
            break
        body = {**body, "after": after}
    expected = sorted(
        (a for a in everything if a["updated_timestamp"] >= since),
        key=lambda a: (a["updated_timestamp"], a["composite_id"]),
    )
    assert [a["composite_id"] for a in out] == [a["composite_id"] for a in expected]
    bad = client.post(url, json={"filter": "created_timestamp:~'x'"}, headers=h)
    assert bad.status_code == 400


def test_crowdstrike_429_retry_after_is_an_epoch(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    h = _cs_headers(sim, client)
    sim.add_faults(FaultSpec(kind="rate_limit", target="crowdstrike", retry_after=20))
    r = client.get(sim.url("crowdstrike") + "/alerts/queries/alerts/v2", headers=h)
    assert r.status_code == 429
    assert 18 <= int(r.headers["X-RateLimit-RetryAfter"]) - time.time() <= 22
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert r.json()["errors"][0]["code"] == 429


def test_okta_token_endpoint_requires_private_key_jwt(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    """Okta refuses client secrets for okta.* scopes; a forged or foreign assertion too."""
    creds = sim.credentials("okta")
    base = {"grant_type": "client_credentials", "scope": "okta.logs.read"}
    secret = client.post(
        creds["token_url"], data={**base, "client_id": creds["client_id"], "client_secret": "x"}
    )
    assert secret.status_code == 401
    assert secret.json()["error"] == "invalid_client"
    assert "private_key_jwt" in secret.json()["error_description"]
    claims = {"iss": "someone-else", "sub": "someone-else", "aud": creds["token_url"]}
    foreign = jwt.encode({**claims, "exp": int(time.time()) + 300}, creds["private_key"], "RS256")
    forged = "e30.e30.c2ln"
    for assertion in (foreign, forged):
        form = {
            **base,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
        assert client.post(creds["token_url"], data=form).status_code == 401
