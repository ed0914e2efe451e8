"""Plain httpx2 clients that page each simulated vendor API to its end, as the vendor docs say."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

MAX_PAGES = 500


def walk_generic(client: httpx.Client, url: str, token: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(MAX_PAGES):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(url, params=query, headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        body = r.json()
        out += body["data"]["events"]
        cursor = body["meta"]["next_cursor"]
        if not cursor:
            return out
    raise AssertionError("generic walk did not end")


def walk_xdr(
    client: httpx.Client, url: str, creds: dict[str, str], filters: list[Any], page: int = 100
) -> tuple[list[dict[str, Any]], int]:
    headers = {"Authorization": creds["api_key"], "x-xdr-auth-id": creds["api_key_id"]}
    out: list[dict[str, Any]] = []
    start = 0
    for _ in range(MAX_PAGES):
        body = {
            "request_data": {
                "filters": filters,
                "search_from": start,
                "search_to": start + page,
                "sort": {"field": "creation_time", "keyword": "asc"},
            }
        }
        r = client.post(url, json=body, headers=headers)
        r.raise_for_status()
        reply = r.json()["reply"]
        out += reply["alerts"]
        start += len(reply["alerts"])
        if not reply["alerts"] or start >= reply["total_count"]:
            return out, reply["total_count"]
    raise AssertionError("xdr walk did not end")


def walk_links(
    client: httpx.Client, url: str, headers: dict[str, str], params: dict[str, Any]
) -> tuple[list[dict[str, Any]], httpx.Response]:
    """Okta bounded / GitHub: follow rel="next" until it is absent."""
    out: list[dict[str, Any]] = []
    r = client.get(url, params=params, headers=headers)
    for _ in range(MAX_PAGES):
        r.raise_for_status()
        out += r.json()
        nxt = r.links.get("next", {}).get("url")
        if not nxt:
            return out, r
        r = client.get(nxt, headers=headers)
    raise AssertionError("link walk did not end")


def walk_okta_polling(
    client: httpx.Client, url: str, token: str, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    """Okta polling: the next link never disappears; stop on an empty page. Returns the link."""
    headers = {"Authorization": f"SSWS {token}"}
    out: list[dict[str, Any]] = []
    r = client.get(url, params=params, headers=headers)
    for _ in range(MAX_PAGES):
        r.raise_for_status()
        nxt = r.links["next"]["url"]
        page = r.json()
        if not page:
            return out, nxt
        out += page
        r = client.get(nxt, headers=headers)
    raise AssertionError("okta polling walk did not end")


def walk_graph(
    client: httpx.Client, url: str, token: str, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    headers = {"Authorization": f"Bearer {token}"}
    out: list[dict[str, Any]] = []
    r = client.get(url, params=params, headers=headers)
    for pages in range(1, MAX_PAGES):
        r.raise_for_status()
        body = r.json()
        out += body["value"]
        if "@odata.nextLink" not in body:
            return out, pages
        r = client.get(body["@odata.nextLink"], headers=headers)
    raise AssertionError("graph walk did not end")


def walk_slack(client: httpx.Client, url: str, token: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(MAX_PAGES):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(url, params=query, headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        body = r.json()
        out += body["entries"]
        cursor = body["response_metadata"]["next_cursor"]
        if cursor == "":
            return out
    raise AssertionError("slack walk did not end")


def walk_onepassword(
    client: httpx.Client, url: str, token: str, first: dict[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    """Follow the cursor while has_more; returns the items and the cursor to keep."""
    out: list[dict[str, Any]] = []
    body: dict[str, Any] = first
    for _ in range(MAX_PAGES):
        r = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        doc = r.json()
        out += doc["items"]
        body = {"cursor": doc["cursor"]}
        if not doc["has_more"]:
            return out, doc["cursor"]
    raise AssertionError("1password walk did not end")


def graph_token(client: httpx.Client, creds: dict[str, str]) -> dict[str, Any]:
    r = client.post(
        creds["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "scope": creds["scope"],
        },
    )
    r.raise_for_status()
    return dict(r.json())
