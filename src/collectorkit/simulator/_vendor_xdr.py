"""Cortex XDR alerts: ``POST /public_api/v1|v2/alerts/get_alerts_multi_events`` and ``get_alerts``.

Offset paging with ``search_from``/``search_to`` (at most 100 per page: a larger window is
clamped, not refused), filters ANDed, ``creation_time``/``server_creation_time`` ``gte``/``lte``
inclusive on epoch ms, ``severity`` and ``alert_id_list`` ``in``. Unsorted requests are returned
ascending by ``creation_time``. Standard keys (raw key in ``Authorization`` + ``x-xdr-auth-id``)
and advanced keys (``sha256(key + nonce + timestamp)`` with ``x-xdr-nonce``/``x-xdr-timestamp``;
a timestamp more than 5 minutes off or a reused nonce is refused) both work.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable
from typing import Any

from collectorkit.simulator._dataset import StoredRecord
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError

__all__ = ["XDRAPI"]

_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_NAMES = (
    ("Example Malware", "Malware", "XDR Agent"),
    ("Suspicious Process Creation", "Execution", "XDR Agent"),
    ("Port Scan", "Discovery", "XDR Analytics"),
    ("Credential Dumping", "Credential Access", "XDR BIOC"),
    ("Outbound C2 Beacon", "Command and Control", "Firewall"),
)
_ACTIONS = (("BLOCKED", "Prevented (Blocked)"), ("DETECTED", "Detected (Reported)"))
_EVENT_FIELDS = (
    "event_type",
    "event_timestamp",
    "actor_process_image_name",
    "actor_process_command_line",
    "actor_process_os_pid",
    "user_name",
)
_SKEW_MS = 5 * 60 * 1000


def _field_in(name: str, allowed: set[str]) -> Callable[[StoredRecord], bool]:
    def pred(rec: StoredRecord) -> bool:
        return str(rec.fields[name]) in allowed

    return pred


class XDRAPI(VendorAPI):
    """Cortex XDR-shaped alerts; v1 nests ``events``, v2 flattens event fields into arrays."""

    kind = "xdr"
    id_field = "alert_id"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._nonces: set[str] = set()

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        name, category, source = rng.choice(_NAMES)
        action, pretty = rng.choice(_ACTIONS)
        host = rng.randrange(1, 40)
        image = rng.choice(("demo.exe", "powershell.exe", "rundll32.exe", "curl"))
        return {
            "alert_id": str(389000 + index),
            "external_id": f"{rng.getrandbits(128):032x}",
            "name": name,
            "category": category,
            "source": source,
            "severity": rng.choice(tuple(_SEVERITY_RANK)),
            "description": f"{name} on host-{host:02d}",
            "action": action,
            "action_pretty": pretty,
            "endpoint_id": f"{rng.getrandbits(128):032x}",
            "host_name": f"host-{host:02d}",
            "host_ip": [f"10.0.0.{host}"],
            "agent_os_type": rng.choice(("Windows", "Linux", "macOS")),
            "agent_version": "8.2.0.12345",
            "mitre_tactic_id_and_name": ["TA0007 - Discovery"],
            "mitre_technique_id_and_name": ["T1082 - System Information Discovery"],
            "alert_type": "Unclassified",
            "event": {
                "event_id": f"AAAB{rng.getrandbits(64):016x}==",
                "event_type": "Process Execution",
                "actor_process_image_name": image,
                "actor_process_command_line": f"{image} --flag {index}",
                "actor_process_os_pid": rng.randrange(100, 65000),
                "user_name": f"EXAMPLE\\{rng.choice(('alice', 'bob', 'carol'))}",
            },
        }

    def endpoints(self) -> list[Endpoint]:
        paths = []
        for p in (
            "/public_api/v1/alerts/get_alerts_multi_events",
            "/public_api/v2/alerts/get_alerts_multi_events",
            "/public_api/v1/alerts/get_alerts",
        ):
            paths += [p, p + "/"]
        return [Endpoint("alerts", tuple(paths), ("POST",), self.alerts)]

    def credentials(self, base_url: str) -> dict[str, str]:
        return {"api_key": self.profile.secret, "api_key_id": self.profile.key_id}

    def render(self, rec: StoredRecord, *, v2: bool = False) -> dict[str, Any]:
        f = rec.fields
        event = dict(f["event"], event_timestamp=rec.event_ms)
        out = {k: v for k, v in f.items() if k != "event"}
        out |= {
            "detection_timestamp": rec.event_ms,
            "creation_time": rec.event_ms,
            "local_insert_ts": rec.inserted_ms,
            "server_creation_time": rec.inserted_ms,
            "last_modified_ts": rec.updated_ms if rec.version > 1 else None,
            "resolution_status": "STATUS_010_NEW"
            if rec.version == 1
            else "STATUS_020_UNDER_INVESTIGATION",
            "starred": False,
            "is_whitelisted": False,
        }
        if v2:
            out["events"] = None
            out |= {k: [event[k]] for k in _EVENT_FIELDS}
            out |= {"tags": [], "original_tags": [], "case_id": int(rec.id) // 10}
        else:
            out["events"] = [event]
        return out

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply(status, {"reply": {"err_code": status, "err_msg": message, "err_extra": code}})

    def authenticate(self, ctx: RequestContext) -> Reply | None:
        h = ctx.request.headers
        key, key_id = h.get("authorization", ""), h.get("x-xdr-auth-id", "")
        ctx.token = key
        denied = self.error(401, "Invalid API key", "Public API request unauthorized")
        if key_id != self.profile.key_id:
            return denied
        nonce, stamp = h.get("x-xdr-nonce"), h.get("x-xdr-timestamp")
        if nonce is None:
            return None if hmac.compare_digest(key, self.profile.secret) else denied
        expected = hashlib.sha256(f"{self.profile.secret}{nonce}{stamp}".encode()).hexdigest()
        try:
            fresh = abs(int(stamp or "") - ctx.now_ms) <= _SKEW_MS
        except ValueError:
            fresh = False
        if not hmac.compare_digest(key.lower(), expected) or not fresh or nonce in self._nonces:
            return denied
        self._nonces.add(nonce)
        return None

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        return self.error(
            401,
            "API key expired" if expired else "Invalid API key",
            "Public API request unauthorized",
        )

    def alerts(self, ctx: RequestContext) -> Reply:
        doc = ctx.json()
        rd = doc.get("request_data") if isinstance(doc, dict) else None
        if not isinstance(rd, dict):
            raise VendorError(self.error(400, "request_data is required", "Bad request"))
        select = self._selector(rd.get("filters") or [])
        start, stop = self._search_window(rd)
        order = self._order(rd.get("sort"))
        matching = order(select())
        if ctx.drift(matching[:start]):
            matching = order(select())
        first = ctx.duplicate_start(start)
        page = matching[first:stop]
        v2 = "/v2/" in ctx.request.url.path
        body = {
            "reply": {
                "total_count": len(matching),
                "result_count": len(page),
                "alerts": [self.render(r, v2=v2) for r in page],
            }
        }
        return Reply(200, body, served=page)

    def _search_window(self, rd: dict[str, Any]) -> tuple[int, int]:
        cap = self.profile.max_page_size or 100
        start, stop = rd.get("search_from", 0), rd.get("search_to")
        if stop is None:
            stop = start + cap if isinstance(start, int) else None
        if not isinstance(start, int) or not isinstance(stop, int) or start < 0 or stop < start:
            raise VendorError(
                self.error(400, "search_from/search_to must be 0 <= from <= to", "Bad request")
            )
        cap_offset = self.profile.max_offset
        if cap_offset is not None and start >= cap_offset:
            msg = f"search_from {start} is beyond the maximum offset {cap_offset}"
            raise VendorError(self.error(500, msg, "Internal error"))
        return start, min(stop, start + cap)

    def _selector(self, filters: list[Any]) -> Callable[[], list[StoredRecord]]:
        bounds: dict[str, list[int | None]] = {}
        preds: list[Callable[[StoredRecord], bool]] = []
        for f in filters:
            field, op, value = (
                (f.get(k) for k in ("field", "operator", "value"))
                if isinstance(f, dict)
                else (None,) * 3
            )
            if (
                field in ("creation_time", "server_creation_time")
                and op in ("gte", "lte")
                and isinstance(value, int)
            ):
                lo_hi = bounds.setdefault(
                    "event" if field == "creation_time" else "inserted", [None, None]
                )
                lo_hi[0 if op == "gte" else 1] = value
            elif field == "severity" and op == "in" and isinstance(value, list):
                preds.append(_field_in("severity", {str(v).lower() for v in value}))
            elif field == "alert_id_list" and op == "in" and isinstance(value, list):
                preds.append(_field_in("alert_id", {str(v) for v in value}))
            else:
                raise VendorError(self.error(400, f"unsupported filter {f!r}", "Bad request"))

        def select() -> list[StoredRecord]:
            key = "event" if "event" in bounds or not bounds else "inserted"
            lo, hi = bounds.get(key, [None, None])
            rows = self.dataset.between(key, lo, hi)
            for other, (olo, ohi) in bounds.items():
                if other != key:
                    rows = [
                        r
                        for r in rows
                        if (olo is None or r.time(other) >= olo)
                        and (ohi is None or r.time(other) <= ohi)
                    ]
            if preds:
                rows = [r for r in rows if all(p(r) for p in preds)]
            if key != "event":  # the event view is already in (creation_time, id) order
                rows = sorted(rows, key=lambda r: (r.event_ms, r.id))
            return rows

        return select

    def _order(self, sort: Any) -> Callable[[list[StoredRecord]], list[StoredRecord]]:
        field = (
            (sort or {}).get("field", "creation_time")
            if isinstance(sort, dict)
            else "creation_time"
        )
        keyword = (
            str((sort or {}).get("keyword", "asc")).lower() if isinstance(sort, dict) else "asc"
        )
        if field not in ("creation_time", "severity") or keyword not in ("asc", "desc"):
            raise VendorError(self.error(400, f"unsupported sort {sort!r}", "Bad request"))

        def order(rows: list[StoredRecord]) -> list[StoredRecord]:
            if field == "severity":
                return sorted(
                    rows,
                    key=lambda r: (_SEVERITY_RANK[r.fields["severity"]], r.event_ms, r.id),
                    reverse=keyword == "desc",
                )
            return rows[::-1] if keyword == "desc" else rows

        return order
