"""Every scope a client can hold, by surface."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "rewards.issue": "Partner API: reward templates, campaigns, issuance and revocation",
    "read_catalogue": "Voucher API: read the product catalogue",
    "issue_vouchers": "Voucher API: issue vouchers",
    "read_vouchers": "Voucher API: read issued vouchers",
    "redeem_vouchers": "Voucher API, merchant side: look vouchers up by code, redeem and void them",
    "loyalty.adhoc_reward": "Loyalty API: sessions and ad hoc points rewards",
    "operator.campaigns": "Operator API: campaigns, rewards and enrollments",
}
