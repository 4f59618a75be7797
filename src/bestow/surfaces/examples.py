"""Examples for every operation of the OpenAPI document, kept in one place.

``apply`` gives each operation:

* its request body's example (``REQUESTS``, keyed by method and path), with dates the API accepts
  (computed when the document is built: a campaign must end in the future) and, once the demo
  data set is loaded, the demo's ids, so that "Try it out" in ``/docs`` works on the demo data;
* examples of its path, query and header parameters (``PARAMETERS``, by name);
* an example of each documented response: the surface's error shape with its code for each error
  status, and for a success a value built from the response's schema, with field names read for
  plausible values (``sample``), or the hand-written one in ``RESPONSES``.

Only ids go into the document, never a credential: ``DemoIds.of`` takes them out of the demo.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bestow.kit.timefmt import iso
from bestow.surfaces.loyalty.errors import CODES as LOYALTY_CODES
from bestow.surfaces.operator.errors import CODES as OPERATOR_CODES
from bestow.surfaces.partner.errors import CODES as PARTNER_CODES


@dataclass(frozen=True)
class DemoIds:
    """The demo data set's ids (none of its secrets), or stand-ins of the same form."""

    merchant_id: str = "mer_01m98g6nvkr4xpdk06a2z5xqd3"
    template_id: str = "rtp_01m98g6nwezksrtqkaaxgmq9w9"
    partner_client_id: str = "cli_01m98g6ny6s8zyrwtwq551db70"
    member_email: str = "member0000@pizzacompany.example.com"
    member_phone: str = "+14155550001"
    loyalty_account_id: str = "3f0c2a4e-8b1d-4e6f-9a2b-5c7d8e9f0a1b"
    loyalty_business_unit: str = "Pizza Company Downtown"
    loyalty_reward_id: str = "BONUS-100"
    operator_id: str = "1001"
    operator_campaign_id: str = "cmp_01m98g6p8k7phaahkrtpfy8jf8"
    operator_reward_id: str = "orw_01m98g6p8qzr6m2q3c1vx9k4tb"
    operator_product: str = "demo-slots"

    @classmethod
    def of(cls, demo: dict[str, Any] | None) -> DemoIds:
        """The ids of a demo document (``bestow demo --json``); stand-ins for what it lacks."""
        if not demo:
            return cls()
        found: dict[str, Any] = {}
        paths = {
            "merchant_id": ("partner", "merchant_id"),
            "template_id": ("partner", "template_id"),
            "partner_client_id": ("partner", "client_id"),
            "member_email": ("partner", "members", 0, "email"),
            "member_phone": ("partner", "members", 1, "phone"),
            "loyalty_account_id": ("loyalty", "account", "account_id"),
            "loyalty_business_unit": ("loyalty", "business_unit"),
            "loyalty_reward_id": ("loyalty", "reward_id"),
            "operator_id": ("operator", "operator_id"),
            "operator_campaign_id": ("operator", "campaign_id"),
            "operator_reward_id": ("operator", "reward_id"),
            "operator_product": ("operator", "products", 0),
        }
        for name, path in paths.items():
            node: Any = demo
            for key in path:
                try:
                    node = node[key]
                except (KeyError, IndexError, TypeError):
                    node = None
                    break
            if node is not None:
                found[name] = str(node)
        return cls(**found)


def requests(ids: DemoIds, now: datetime) -> dict[tuple[str, str], Any]:
    """Each operation's example request body, by (method, path)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start, end, later = iso(today), iso(today + timedelta(days=30)), iso(today + timedelta(60))
    window = {"startTimeUtc": iso(now.replace(microsecond=0)), "endTimeUtc": end}
    return {
        # Partner API
        ("post", "/partner/campaigns"): {
            "campaign": {
                "merchant_id": ids.merchant_id,
                "name": "Welcome back",
                "objective": "Bring lapsed members back",
                "fine_print": "One per member.",
                "start_at": start,
                "end_at": end,
                "redeemable_from": start,
                "redeemable_to": later,
                "variants": [
                    {"name": "Free slice", "reward_template_id": ids.template_id},
                    {"name": "Control"},
                ],
            }
        },
        ("post", "/partner/campaigns/issue"): {
            "merchant_id": ids.merchant_id,
            "campaign_id": "cmp_01m98gjsnx5pc2x9bk4h1nvtfn",
            "variant_id": "var_01m98gjspmj4kek5d7rcsjkefh",
            "identifiers": [
                {"type": "email", "value": ids.member_email},
                {"type": "phone", "value": ids.member_phone},
            ],
        },
        ("post", "/partner/issuance_jobs/{job_id}/revoke"): {"merchant_id": ids.merchant_id},
        # Admin API
        ("post", "/admin/clients"): {
            "name": "Acme Rewards Partner",
            "scopes": ["rewards.issue"],
            "rate_limit_tier": "default",
        },
        ("patch", "/admin/clients/{client_id}"): {"rate_limit_tier": "high", "status": "active"},
        ("post", "/admin/clients/{client_id}/credentials"): {
            "kind": "partner_token",
            "label": "production",
        },
        ("post", "/admin/clients/{client_id}/credentials/{credential_id}/rotate"): {
            "grace_seconds": 3600
        },
        ("post", "/admin/clients/{client_id}/merchants"): {"merchant_id": ids.merchant_id},
        ("post", "/admin/merchants"): {
            "name": "Corner Bakery",
            "handle": "cornerbakery",
            "time_zone": "Europe/London",
            "enrol_unknown_members": False,
        },
        ("patch", "/admin/merchants/{merchant_id}"): {"time_zone": "America/Los_Angeles"},
        ("post", "/admin/merchants/{merchant_id}/locations"): {
            "name": "Pizza Company Sunset",
            "street": "1200 Irving St",
            "city": "San Francisco",
            "state": "CA",
            "zip": "94122",
            "phone": "+14155550199",
        },
        ("post", "/admin/merchants/{merchant_id}/business_units"): {"name": "PIZZA_SUNSET"},
        ("post", "/admin/merchants/{merchant_id}/members"): {
            "email": "new.member@example.com",
            "phone": "+14155550142",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "status": "active",
            "external_ids": {"crm": "CRM-000142"},
        },
        ("post", "/admin/merchants/{merchant_id}/members/import"): (
            "email,phone,first_name,last_name\nimport.one@example.com,+14155550143,Grace,Hopper\n"
        ),
        ("post", "/admin/members/{member_id}/status"): {"status": "inactive"},
        ("post", "/admin/merchants/{merchant_id}/reward_templates"): {
            "kind": "discount",
            "name": "$3 Off",
            "subtype": "amount",
            "description": "$3 off any order",
            "fine_print": "One per member.",
            "discount": {"type": "amount", "value": 300},
            "publish": True,
        },
        ("post", "/admin/products"): {
            "code": "GIFT-25",
            "name": "$25 Gift Card",
            "description": "Spend it over several visits",
            "is_value_based": True,
            "is_open_value": False,
            "is_status_available": True,
            "is_multiple_use": True,
            "currency": "SGD",
            "face_value": 2500,
            "validity_days": 365,
            "stock": 1000,
        },
        ("patch", "/admin/products/{code}"): {"stock": 500, "description": "Now in stock"},
        ("post", "/admin/clients/{client_id}/webhook_endpoints"): {
            "url": "https://hooks.example.com/bestow",
            "description": "Rewards events",
            "event_types": ["reward.issued", "reward_batch.completed"],
            "max_attempts": 8,
            "enabled": True,
        },
        ("patch", "/admin/webhook_endpoints/{endpoint_id}"): {"enabled": False},
        ("post", "/admin/webhook_endpoints/{endpoint_id}/rotate_secret"): {
            "overlap_seconds": 86400
        },
        ("post", "/admin/webhook_endpoints/{endpoint_id}/replay"): {
            "since": iso(now.replace(microsecond=0) - timedelta(days=1))
        },
        ("post", "/admin/vouchers/{code}/redeem"): {
            "amount": 500,
            "reference": "till-1-receipt-0001",
            "location": "Pier 17",
        },
        ("post", "/admin/vouchers/{code}/void"): {"reason": "Sold in error"},
        ("post", "/admin/merchants/{merchant_id}/loyalty_rewards"): {
            "reward_id": "BIRTHDAY",
            "name": "Birthday bonus",
            "max_per_transaction": 500,
            "enabled": True,
        },
        ("patch", "/admin/loyalty_rewards/{reward_id}"): {"max_per_transaction": 800},
        ("put", "/admin/clients/{client_id}/features/adhoc_reward"): {"enabled": True},
        ("post", "/admin/clients/{client_id}/faults"): {
            "kind": "lost_answer",
            "count": 1,
            "route": "POST /partner/campaigns/issue",
            "params": {"answer": "drop"},
            "ttl_seconds": 3600,
        },
        ("post", "/admin/clients/{client_id}/certification/runs"): {
            "surface": "partner",
            "faults": True,
        },
        ("put", "/admin/clients/{client_id}/certification/attestations/{item_id}"): {
            "note": "Discovery to revocation demonstrated live to the partner's team on 7 Dec",
        },
        # OAuth 2.0 (form-encoded; the client's id and secret go in HTTP Basic)
        ("post", "/oauth2/token"): {"grant_type": "client_credentials"},
        # Voucher API
        ("post", "/v3/products/{code}"): {"quantity": 1},
        ("post", "/v3/merchant/vouchers/{voucher_code}/redeem"): {
            "amount": 500,
            "reference": "till-1-receipt-0001",
            "location": "Pier 17",
        },
        ("post", "/v3/merchant/vouchers/{voucher_code}/void"): {"reason": "Sold in error"},
        # Loyalty API
        ("post", "/client/users/{identifier}/sessions"): {
            "correlationId": "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
            "channel": "APP",
            "externalAgentSessionId": "agent-42",
        },
        ("post", "/client/users/{correlation_id}/adhoc-reward/"): {
            "issuerId": "support-desk",
            "rewardId": ids.loyalty_reward_id,
            "rewardAmount": 100,
            "businessUnit": ids.loyalty_business_unit,
            "channel": "APP",
            "externalReferenceId": "order-1001",
        },
        # Operator API
        ("post", "/v1/campaigns"): {
            "name": "Weekend spins",
            "description": "Free spins for the weekend",
            "operatorReference": "WKND-1",
            "termsAndConditionsUrl": "https://casino.example.com/terms",
            **window,
            "createdBy": "crm-team",
        },
        ("post", "/v1/campaigns/{campaign_id}/cancel"): {"cancelledBy": "crm-team"},
        ("post", "/v1/campaigns/{campaign_id}/rewards"): {
            "rewardType": "FreeBets",
            "name": "Five free spins",
            "description": "5 bets of 1.00 EUR",
            "operatorReference": "WKND-1-FS5",
            "products": [ids.operator_product],
            **window,
            "createdBy": "crm-team",
            "freeBetDetails": {
                "freeBetDetailsType": "Fixed",
                "betValue": 1.0,
                "currencyIsoCode": "EUR",
                "betCount": 5,
            },
        },
        ("post", "/v1/rewards/{reward_id}/cancel"): {"cancelledBy": "crm-team"},
        ("post", "/v1/rewards/{reward_id}/enrollments"): {"operatorPlayerId": "player-123"},
        ("post", "/v1/rewards/{reward_id}/enrollments/bulk"): {
            "operatorPlayerIds": ["player-124", "player-125", "player-126"]
        },
        ("post", "/v1/enrollments/{enrollment_id}/cancel"): {"cancelledBy": "crm-team"},
        ("post", "/v1/enrollments/{enrollment_id}/bets"): {
            "betId": "bet-0001",
            "product": ids.operator_product,
        },
    }


_CAMPAIGN = {
    "id": "cmp_01m98h05er3ewp1n5wammbmx7m",
    "operatorId": 1001,
    "name": "Weekend spins",
    "description": "Free spins for the weekend",
    "operatorReference": "WKND-1",
    "termsAndConditionsUrl": "https://casino.example.com/terms",
    "startTimeUtc": "2026-12-07T15:12:17Z",
    "endTimeUtc": "2027-01-06T15:12:17Z",
    "status": "Active",
    "createdAtUtc": "2026-12-07T15:12:18Z",
    "createdBy": "crm-team",
    "updatedAtUtc": None,
    "updatedBy": None,
    "cancelledAtUtc": None,
    "cancelledBy": None,
}
_REWARD = {
    "id": "orw_01m98h06v2t5r6pfz1x358xpmt",
    "campaignId": "cmp_01m98h05er3ewp1n5wammbmx7m",
    "operatorId": 1001,
    "rewardType": "FreeBets",
    "name": "Five free spins",
    "description": "5 bets of 1.00 EUR",
    "operatorReference": "WKND-1-FS5",
    "products": ["demo-slots", "demo-roulette"],
    "startTimeUtc": "2026-12-07T15:12:17Z",
    "endTimeUtc": "2027-01-06T15:12:17Z",
    "status": "Active",
    "freeBetDetails": {
        "freeBetDetailsType": "Fixed",
        "betValue": 1.0,
        "betCount": 5,
        "currencyIsoCode": "EUR",
        "creditWalletType": "FreeBet",
        "stakeNotReturned": True,
    },
    "createdAtUtc": "2026-12-07T15:12:19Z",
    "createdBy": "crm-team",
    "updatedAtUtc": None,
    "updatedBy": None,
    "cancelledAtUtc": None,
    "cancelledBy": None,
}
_ENROLLMENT = {
    "rewardType": "FreeBets",
    "id": "oen_01m98h09f81nhgax0qmt4bnnz8",
    "operatorId": 1001,
    "rewardId": "orw_01m98h06v2t5r6pfz1x358xpmt",
    "campaignId": "cmp_01m98h05er3ewp1n5wammbmx7m",
    "campaignOperatorReference": "WKND-1",
    "rewardOperatorReference": "WKND-1-FS5",
    "operatorPlayerId": "player-d9e430dc",
    "products": ["demo-slots", "demo-roulette"],
    "status": "New",
    "startTimeUtc": "2026-12-07T15:12:17Z",
    "endTimeUtc": "2027-01-06T15:12:17Z",
    "betValue": 1.0,
    "currencyIsoCode": "EUR",
    "totalBetCount": 5,
    "remainingBetCount": 5,
    "creditWalletType": "FreeBet",
    "stakeNotReturned": True,
    "createdAtUtc": "2026-12-07T15:12:22Z",
    "updatedAtUtc": None,
    "completedAtUtc": None,
    "cancelledAtUtc": None,
    "cancelledBy": None,
}
_BET = {
    "id": "ofb_01m98h0ewjwbyjg65qtt5mks5n",
    "betId": "bet-player-d9e430dc-1",
    "enrollmentId": "oen_01m98h09f81nhgax0qmt4bnnz8",
    "rewardId": "orw_01m98h06v2t5r6pfz1x358xpmt",
    "operatorPlayerId": "player-d9e430dc",
    "product": "demo-slots",
    "betValue": 1.0,
    "remainingBetCount": 4,
    "enrollmentStatus": "Active",
    "placedAtUtc": "2026-12-07T15:12:27Z",
}
_BULK = {
    "id": "oeb_01m98h0bw3say595hhpkytsdsh",
    "rewardId": "orw_01m98h06v2t5r6pfz1x358xpmt",
    "status": "Completed",
    "totalCount": 3,
    "processedCount": 3,
    "enrolledCount": 3,
    "existingCount": 0,
    "failedCount": 0,
    "error": None,
    "betValue": 1.0,
    "betCount": 5,
    "createdBy": None,
    "createdAtUtc": "2026-12-07T15:12:24Z",
    "startedAtUtc": "2026-12-07T15:12:25Z",
    "completedAtUtc": "2026-12-07T15:12:25Z",
}
_JOB = {
    "id": "job_01m98h0xpepv6jmf1bgmsz1nsq",
    "campaign_id": "cmp_01m98h0vn4gge018qtqx5ppypj",
    "variant_id": "var_01m98h0vnbn7d8kg367hx5d02t",
    "total_count": 3,
    "processed_count": 3,
    "success_count": 2,
    "failure_count": 1,
    "progress_percent": 100,
    "created_at": "2026-12-07T15:12:43Z",
    "started_at": "2026-12-07T15:12:43Z",
    "completed_at": "2026-12-07T15:12:43Z",
    "summary": {
        "success_count": 2,
        "failure_count": 1,
        "failures": [
            {"identifier_index": 2, "identifier_type": "email", "error": "User not found"}
        ],
    },
}


def _ok(data: Any, message: str = "OK") -> dict[str, Any]:
    return {"message": message, "data": data, "responseCode": "OK"}


RESPONSES: dict[tuple[str, str, str], Any] = {
    # Hand-written successes where the schema says little (the Operator API's envelope).
    ("get", "/v1/campaigns", "200"): _ok([_CAMPAIGN]),
    ("post", "/v1/campaigns", "200"): _ok(_CAMPAIGN),
    ("get", "/v1/campaigns/{campaign_id}", "200"): _ok(_CAMPAIGN),
    ("post", "/v1/campaigns/{campaign_id}/cancel", "200"): _ok({}),
    ("post", "/v1/campaigns/{campaign_id}/rewards", "200"): _ok(_REWARD),
    ("get", "/v1/campaigns/{campaign_id}/rewards", "200"): _ok([_REWARD]),
    ("get", "/v1/rewards/{reward_id}", "200"): _ok(_REWARD),
    ("post", "/v1/rewards/{reward_id}/cancel", "200"): _ok({}),
    ("post", "/v1/rewards/{reward_id}/enrollments", "200"): _ok(_ENROLLMENT),
    ("get", "/v1/rewards/{reward_id}/enrollments", "200"): _ok([_ENROLLMENT]),
    ("post", "/v1/rewards/{reward_id}/enrollments/bulk", "202"): _ok(
        _BULK | {"status": "Pending", "processedCount": 0, "enrolledCount": 0},
        "Accepted: the players are enrolled by the worker; follow the bulk enrollment's status",
    ),
    ("get", "/v1/rewards/{reward_id}/enrollments/bulk/{bulk_id}", "200"): _ok(_BULK),
    ("get", "/v1/enrollments", "200"): _ok([_ENROLLMENT]),
    ("get", "/v1/enrollments/{enrollment_id}", "200"): _ok(_ENROLLMENT),
    ("post", "/v1/enrollments/{enrollment_id}/cancel", "200"): _ok({}),
    ("post", "/v1/enrollments/{enrollment_id}/bets", "200"): _ok(_BET),
    ("get", "/v1/enrollments/{enrollment_id}/bets", "200"): _ok([_BET]),
    ("get", "/partner/issuance_jobs/{job_id}", "200"): {"issuance_job": _JOB},
}


def parameters(ids: DemoIds) -> dict[tuple[str, str], str | int]:
    """Parameter examples by (path prefix, name); the longest matching prefix wins."""
    return {
        ("/partner", "merchant_id"): ids.merchant_id,
        ("/partner", "template_id"): ids.template_id,
        ("/partner", "campaign_id"): "cmp_01m98gjsnx5pc2x9bk4h1nvtfn",
        ("/partner", "job_id"): "job_01m98gjvvy03mdmtjyhg394wwv",
        ("/partner", "Accept-Version"): "v4.0",
        ("/partner", "X-ClientId"): ids.partner_client_id,
        ("/partner", "X-Idempotency-Key"): "0d3c9a52-6f4e-4b7a-9c1d-2e8f7a6b5c4d",
        ("/admin", "merchant_id"): ids.merchant_id,
        ("/admin", "client_id"): ids.partner_client_id,
        ("/admin", "template_id"): ids.template_id,
        ("/admin", "code"): "DEMO-SGD10",
        ("/admin", "reward_id"): "lrw_01m98g6p0c3s8d2a9x7t4q5w6e",
        ("/v3", "code"): "DEMO-SGD10",
        ("/v3", "Idempotency-Key"): "0d3c9a52-6f4e-4b7a-9c1d-2e8f7a6b5c4d",
        ("/v3", "voucher_id"): "01a25109-cfb6-7140-9f82-9e021e8bd667",
        ("/v3", "voucher_code"): "0KTXS780SPH2GM31",
        ("/client", "identifier"): ids.loyalty_account_id,
        ("/client", "X-Identifier-Type"): "ACCOUNT_ID",
        ("/client", "correlation_id"): "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        ("/client", "Idempotency-Key"): "0d3c9a52-6f4e-4b7a-9c1d-2e8f7a6b5c4d",
        ("/v1", "campaign_id"): ids.operator_campaign_id,
        ("/v1", "reward_id"): ids.operator_reward_id,
        ("/v1", "operatorPlayerId"): "player-123",
        ("/v1", "X-AUTH-OPERATOR-ID"): ids.operator_id,
        ("", "page"): 1,
        ("", "per_page"): 10,
    }


def _error(prefix: str, status: int, message: str) -> dict[str, Any]:
    """The body a surface answers for ``status``, as its error renderer writes it."""
    if prefix == "/partner/":
        kinds = {
            400: "invalid",
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            409: "idempotency_in_flight",
            413: "too_large",
            415: "unsupported_media_type",
            422: "invalid_state",
            429: "rate_limited",
        }
        return {"code": PARTNER_CODES.get(kinds.get(status, ""), "BAD_REQUEST"), "message": message}
    if prefix == "/v3/":
        return {"status": status, "code": f"{status}-000", "message": message}
    if prefix == "/client/":
        return {
            "statusCode": status,
            "errorCode": LOYALTY_CODES.get(status, "INVALID_REQUEST"),
            "errorMessage": message,
        }
    if prefix == "/v1/":
        return {"message": message, "data": {}, "responseCode": OPERATOR_CODES.get(status, "")}
    if prefix == "/oauth2/":
        code = {400: "invalid_request", 401: "invalid_client"}.get(status, "invalid_request")
        return {"error": code, "error_description": message}
    return {
        "type": "about:blank",
        "title": message.split(":", 1)[0],
        "status": status,
        "detail": message,
    }


ERROR_MESSAGES = {
    400: "name is required",
    401: "Missing or invalid credentials",
    403: "The credentials lack the operation's scope",
    404: "Not found",
    409: "Conflict with the resource's current state",
    413: "Request body exceeds the limit of 5000000 bytes",
    415: "Content-Type must be application/json",
    422: "Not allowed in the current state",
    429: "Rate limit exceeded",
    503: "The service is unavailable; retry later",
}

NAMED_STRINGS = {
    "name": "Pizza Company",
    "handle": "pizzacompany",
    "description": "One free slice of any pizza",
    "fine_print": "One per member.",
    "message": "OK",
    "responseCode": "OK",
    "currency": "SGD",
    "currencyIsoCode": "EUR",
    "time_zone": "America/Los_Angeles",
    "email": "member0000@pizzacompany.example.com",
    "phone": "+14155550000",
    "status": "active",
    "type": "discount",
    "kind": "discount",
    "channel": "APP",
    "code": "DEMO-SGD10",
    "voucher_code": "0KTXS780SPH2GM31",
    "product_code": "DEMO-SGD10",
    "url": "https://hooks.example.com/bestow",
    "token_type": "Bearer",
    "scope": "read_catalogue issue_vouchers",
    "operatorPlayerId": "player-123",
    "createdBy": "crm-team",
    "businessUnit": "Pizza Company Downtown",
    "rewardType": "FreeBets",
}


class _Sampler:
    def __init__(self, schemas: dict[str, Any], ids: DemoIds, now: datetime) -> None:
        self.schemas = schemas
        self.ids = ids
        self.now = iso(now.replace(microsecond=0))

    def sample(self, schema: Any, name: str = "", depth: int = 0) -> Any:
        if not isinstance(schema, dict) or depth > 8:
            return None
        if "$ref" in schema:
            target = self.schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
            return self.sample(target, name, depth + 1)
        for key in ("example", "default", "const"):
            if key in schema and schema[key] is not None:
                return copy.deepcopy(schema[key])
        if schema.get("examples"):
            return copy.deepcopy(schema["examples"][0])
        if schema.get("enum"):
            return schema["enum"][0]
        for combined in ("anyOf", "oneOf", "allOf"):
            options = [s for s in schema.get(combined, []) if s.get("type") != "null"]
            if options:
                return self.sample(options[0], name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "object" or "properties" in schema:
            return {
                key: self.sample(value, key, depth + 1)
                for key, value in schema.get("properties", {}).items()
            }
        if kind == "array":
            item = self.sample(schema.get("items", {}), name, depth + 1)
            return [] if item is None else [item]
        if kind == "integer":
            return int(schema.get("minimum", 0) or 0) or (100 if "amount" in name.lower() else 1)
        if kind == "number":
            return 1.0
        if kind == "boolean":
            return True
        if kind == "string":
            return self.string(schema, name)
        return {}

    def string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        lowered = name.lower()
        dated = ("_at", "atutc", "timeutc", "date", "_from", "_to", "_until")
        if fmt == "date-time" or lowered.endswith(dated):
            return self.now
        if fmt == "uri" or lowered.endswith("url"):
            return "https://example.com/"
        if name in NAMED_STRINGS:
            return NAMED_STRINGS[name]
        if lowered in ("merchant_id", "merchantid"):
            return self.ids.merchant_id
        if lowered in ("client_id", "clientid"):
            return self.ids.partner_client_id
        if lowered.endswith("id"):
            return "id_01m98g6nvkr4xpdk06a2z5xqd3"
        return name.replace("_", " ").capitalize() or "text"


def apply(
    openapi: dict[str, Any], *, ids: DemoIds | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Give every operation of ``openapi`` its request, parameter and response examples."""
    ids = ids or DemoIds()
    now = now or datetime.now(UTC)
    bodies = requests(ids, now)
    named = parameters(ids)
    sampler = _Sampler(openapi.get("components", {}).get("schemas", {}), ids, now)
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            key = (method, path)
            body = operation.get("requestBody")
            if body is not None:
                operation["requestBody"] = body = copy.deepcopy(body)
            if body is not None and key in bodies:
                for media in body.get("content", {}).values():
                    media["example"] = copy.deepcopy(bodies[key])
            for parameter in operation.get("parameters", []):
                value = _parameter(named, path, parameter.get("name", ""))
                if value is not None and "example" not in parameter:
                    parameter["example"] = value
            prefix = next(
                (
                    p
                    for p in ("/partner/", "/v3/", "/client/", "/v1/", "/oauth2/", "/admin/")
                    if path.startswith(p)
                ),
                "",
            )
            for status, response in operation.get("responses", {}).items():
                if "content" in response:
                    # Responses of one operation may share their content objects.
                    response["content"] = copy.deepcopy(response["content"])
                code = int(status) if status.isdigit() else 0
                for media in response.get("content", {}).values():
                    if "example" in media or "examples" in media:
                        continue
                    if (method, path, status) in RESPONSES:
                        media["example"] = copy.deepcopy(RESPONSES[(method, path, status)])
                    elif code >= 400:
                        message = ERROR_MESSAGES.get(code, response.get("description", "Error"))
                        media["example"] = _error(prefix, code, message)
                    else:
                        media["example"] = sampler.sample(media.get("schema", {}))
    return openapi


def _parameter(named: dict[tuple[str, str], str | int], path: str, name: str) -> str | int | None:
    matches = [(prefix, value) for (prefix, n), value in named.items() if n == name]
    matches = [(prefix, value) for prefix, value in matches if path.startswith(prefix)]
    if not matches:
        return None
    return max(matches, key=lambda match: len(match[0]))[1]
