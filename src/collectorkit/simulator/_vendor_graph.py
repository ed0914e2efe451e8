"""Microsoft Graph ``GET /v1.0/security/alerts_v2`` and the client-credentials token endpoint.

``POST /{tenant}/oauth2/v2.0/token`` (form: ``grant_type=client_credentials``, ``client_id``,
``client_secret`` or a ``client_assertion``, ``scope=https://graph.microsoft.com/.default``;
the client in an HTTP Basic header is refused with ``invalid_client`` ``AADSTS7000218``)
issues opaque bearer tokens living ``token_lifetime`` seconds; an expired or unknown token gets
401 ``InvalidAuthenticationToken``. Alerts: ``$filter`` on ``createdDateTime`` /
``lastUpdateDateTime`` (``ge gt le lt``, joined by ``and``) and ``eq '...'`` on ``severity``,
``status``, ``serviceSource``, ``classification``, ``determination``; ``$orderby`` (default
``createdDateTime desc``), ``$top`` (default 100, max 2000 unless ``max_page_size``), ``$skip``,
``$count``; ``@odata.nextLink`` carries an opaque ``$skiptoken`` (an offset: inserts during a walk
shift it, as with the real API) and is absent on the last page. Timestamps have 7 digits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from collectorkit.simulator._dataset import StoredRecord, ViewKey
from collectorkit.simulator._engine import Endpoint, Reply, RequestContext, VendorAPI, VendorError
from collectorkit.simulator._ids import uuid4
from collectorkit.simulator._timefmt import iso, parse_time_ms
from collectorkit.simulator._vendor_generic import int_param

__all__ = ["GraphAPI"]

SCOPE = "https://graph.microsoft.com/.default"
_TIME_FIELDS: dict[str, ViewKey] = {"createdDateTime": "event", "lastUpdateDateTime": "updated"}
_EQ_FIELDS = ("severity", "status", "serviceSource", "classification", "determination")
_CLAUSE_TIME = re.compile(r"^(createdDateTime|lastUpdateDateTime)\s+(ge|gt|le|lt)\s+(\S+)$")
_CLAUSE_EQ = re.compile(r"^(\w+)\s+eq\s+'([^']*)'$")
_OPS: dict[str, Callable[[int, int], bool]] = {
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}
_TITLES = (
    ("Suspicious execution of hidden file", "DefenseEvasion", "microsoftDefenderForEndpoint"),
    ("Impossible travel activity", "InitialAccess", "microsoftDefenderForCloudApps"),
    ("Password spray", "CredentialAccess", "azureAdIdentityProtection"),
    ("Phishing email delivered", "InitialAccess", "microsoftDefenderForOffice365"),
)
TENANT = "00000000-0000-0000-0000-000000000001"


def _time_pred(
    key: ViewKey, op: Callable[[int, int], bool], ms: int
) -> Callable[[StoredRecord], bool]:
    def pred(rec: StoredRecord) -> bool:
        return op(rec.time(key), ms)

    return pred


def _eq_pred(field: str, value: str) -> Callable[[StoredRecord], bool]:
    def pred(rec: StoredRecord) -> bool:
        if field == "status":
            return ("new" if rec.version == 1 else "inProgress") == value
        return bool(rec.fields[field] == value)

    return pred


class GraphAPI(VendorAPI):
    """Graph security alerts_v2 behind OAuth2 client credentials."""

    kind = "graph"
    id_field = "id"
    default_token_lifetime = 3599.0

    @staticmethod
    def make_fields(rng: random.Random, index: int) -> dict[str, Any]:
        title, category, service = rng.choice(_TITLES)
        aid = f"da{638500000000000000 + index}_{-rng.randrange(10**8, 10**9)}"
        return {
            "id": aid,
            "providerAlertId": aid,
            "incidentId": str(28000 + index // 3),
            "severity": rng.choice(("informational", "low", "medium", "high")),
            "classification": "unknown",
            "determination": "unknown",
            "serviceSource": service,
            "detectionSource": "antivirus",
            "productName": "Microsoft Defender",
            "detectorId": uuid4(rng),
            "tenantId": TENANT,
            "title": title,
            "description": title + ".",
            "category": category,
            "assignedTo": None,
            "mitreTechniques": ["T1564.001"],
            "evidence": [
                {
                    "@odata.type": "#microsoft.graph.security.deviceEvidence",
                    "verdict": "unknown",
                    "remediationStatus": "none",
                    "roles": ["compromised"],
                    "deviceDnsName": f"host-{rng.randrange(1, 40):02d}.example.local",
                    "osPlatform": "Windows10",
                }
            ],
        }

    def endpoints(self) -> list[Endpoint]:
        alerts = ("/v1.0/security/alerts_v2", "/beta/security/alerts_v2")
        token = ("/{tenant}/oauth2/v2.0/token",)
        return [
            Endpoint("alerts", alerts, ("GET",), self.alerts),
            Endpoint("token", token, ("POST",), self.token, is_data=False, auth=False),
        ]

    def credentials(self, base_url: str) -> dict[str, str]:
        return {
            "client_id": self.profile.client_id,
            "client_secret": self.profile.oauth_secret,
            "tenant": TENANT,
            "token_url": f"{base_url}/{TENANT}/oauth2/v2.0/token",
            "scope": SCOPE,
        }

    def render(self, rec: StoredRecord) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.type": "#microsoft.graph.security.alert", **rec.fields}
        created = iso(rec.event_ms, digits=7)
        out |= {
            "status": "new" if rec.version == 1 else "inProgress",
            "createdDateTime": created,
            "lastUpdateDateTime": iso(rec.updated_ms, digits=7),
            "firstActivityDateTime": iso(rec.event_ms - 60_000),
            "lastActivityDateTime": iso(rec.event_ms),
            "resolvedDateTime": None,
            "alertWebUrl": f"https://security.microsoft.com/alerts/{rec.id}?tid={TENANT}",
            "comments": [],
            "systemTags": [],
        }
        for ev in out["evidence"]:
            ev["createdDateTime"] = created
        return out

    def error(self, status: int, code: str, message: str) -> Reply:
        inner = {"date": "2024-05-01T12:00:00", "request-id": "sim", "client-request-id": "sim"}
        return Reply(status, {"error": {"code": code, "message": message, "innerError": inner}})

    def token_ok(self, token: str | None, now: float) -> bool:
        return token in self.tokens and super().token_ok(token, now)

    def unauthorized_reply(self, *, expired: bool) -> Reply:
        msg = (
            "Access token has expired or is not yet valid." if expired else "Access token is empty."
        )
        return self.error(401, "InvalidAuthenticationToken", msg)

    def throttle_reply(self, ctx: RequestContext, spec: Any) -> Reply:
        reply = self.error(429, "TooManyRequests", "Too many requests, please try again later.")
        reply.headers += self.retry_headers(ctx, spec)
        return reply

    def server_error_reply(self, status: int) -> Reply:
        code = {500: "generalException", 503: "serviceNotAvailable"}.get(status, "UnknownError")
        return self.error(status, code, "simulated service failure")

    def expired_cursor_reply(self, status: int | None) -> Reply:
        return self.error(status or 400, "BadRequest", "The $skiptoken has expired.")

    def invalid_cursor_reply(self) -> Reply:
        return self.error(400, "BadRequest", "Invalid $skiptoken.")

    def common_headers(self, ctx: RequestContext, reply: Reply) -> list[tuple[str, str]]:
        rid = ctx.request.headers.get("client-request-id", "sim-request")
        return [("request-id", rid), ("client-request-id", rid)]

    def has_cursor(self, ctx: RequestContext) -> bool:
        return bool(ctx.query.get("$skiptoken"))

    def token(self, ctx: RequestContext) -> Reply:
        form = {k: v[0] for k, v in parse_qs(ctx.body.decode("latin-1")).items()}

        def oauth_error(status: int, error: str, text: str, code: int) -> Reply:
            return Reply(status, {"error": error, "error_description": text, "error_codes": [code]})

        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "AADSTS70003: grant_type", 70003)
        if form.get("scope") != SCOPE:
            return oauth_error(
                400, "invalid_scope", "AADSTS1002012: scope must be .default", 1002012
            )
        if ctx.request.headers.get("authorization", "").lower().startswith("basic "):
            # the identity platform reads the client from the form: send client_secret there
            return oauth_error(
                401,
                "invalid_client",
                "AADSTS7000218: The request body must contain client_assertion or client_secret",
                7000218,
            )
        if form.get("client_id") != self.profile.client_id:
            return oauth_error(400, "unauthorized_client", "AADSTS700016: unknown app", 700016)
        secret_ok = form.get("client_secret") == self.profile.oauth_secret
        if not (secret_ok or form.get("client_assertion")):
            return oauth_error(
                401, "invalid_client", "AADSTS7000215: Invalid client secret", 7000215
            )
        token, lifetime = self.issue_token(ctx.now)
        body = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return Reply(200, body)

    def _filter(self, text: str) -> Callable[[StoredRecord], bool]:
        preds: list[Callable[[StoredRecord], bool]] = []
        for clause in re.split(r"\s+and\s+", text.strip()) if text.strip() else []:
            if m := _CLAUSE_TIME.match(clause):
                ms = parse_time_ms(m[3])
                if ms is None:
                    raise VendorError(self.error(400, "BadRequest", f"Invalid datetime {m[3]!r}"))
                preds.append(_time_pred(_TIME_FIELDS[m[1]], _OPS[m[2]], ms))
            elif (m := _CLAUSE_EQ.match(clause)) and m[1] in _EQ_FIELDS:
                preds.append(_eq_pred(m[1], m[2]))
            else:
                raise VendorError(self.error(400, "BadRequest", f"Invalid filter clause: {clause}"))
        return lambda r: all(p(r) for p in preds)

    def _order(self, text: str) -> tuple[ViewKey, bool]:
        parts = text.split() if text else ["createdDateTime", "desc"]
        if (
            parts[0] not in _TIME_FIELDS
            or len(parts) > 2
            or (len(parts) == 2 and parts[1] not in ("asc", "desc"))
        ):
            raise VendorError(self.error(400, "BadRequest", f"Unsupported $orderby: {text}"))
        return _TIME_FIELDS[parts[0]], len(parts) == 2 and parts[1] == "desc"

    def alerts(self, ctx: RequestContext) -> Reply:
        q = ctx.query
        top = int_param(ctx, "$top", 100, 1, self.profile.max_page_size or 2000)
        match = self._filter(q.get("$filter", ""))
        key, desc = self._order(q.get("$orderby", ""))
        token = q.get("$skiptoken")
        offset = (
            int(ctx.decode_cursor(token)["o"]) if token else int_param(ctx, "$skip", 0, 0, 10**9)
        )

        def select() -> list[StoredRecord]:
            rows = [r for r in self.dataset.view(key)[1] if match(r)]
            return rows[::-1] if desc else rows

        rows = select()
        if ctx.drift(rows[:offset], key):
            rows = select()
        page = rows[ctx.duplicate_start(offset) : offset + top]
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2"
        }
        if q.get("$count") == "true":
            body["@odata.count"] = len(rows)
        if offset + top < len(rows) or ctx.never_ending:
            keep = [(k, q.get(k)) for k in ("$filter", "$orderby", "$top", "$count")]
            nxt = min(offset + top, len(rows))  # never_ending: empty pages past the end
            path = ctx.request.url.path[len(self.profile.mount) :]
            body["@odata.nextLink"] = ctx.url(
                path, [*keep, ("$skiptoken", ctx.encode_cursor({"o": nxt}))]
            )
        body["value"] = [self.render(r) for r in page]
        return Reply(200, body, served=page)
