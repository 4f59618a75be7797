"""The Partner API's checklist: Thanx's "Pre-Certification Self-Check: Campaign & Reward
Issuance Integration", every line in the vendor's words and order (seed ``000_*``,
docs.thanx.com "Pre Cert Checklist Campaign Reward Issuance")."""

from __future__ import annotations

from bestow.lab.certification.core import Checklist, FaultSpec
from bestow.lab.certification.partner import general, issuance

CHECKLIST = Checklist(
    surface="partner",
    title="Partner API (Thanx): Campaign & Reward Issuance pre-certification",
    source="vendor",
    reference="Thanx, Pre-Certification Self-Check: Campaign & Reward Issuance Integration "
    "(docs.thanx.com)",
    items=(
        *general.HEADERS,
        *general.DISCOVERY,
        *issuance.CAMPAIGN,
        *issuance.ISSUANCE,
        *issuance.MONITORING,
        *issuance.REVOCATION,
        *issuance.WEBHOOKS,
        *general.RATE_LIMITS,
        *general.SUBMISSION,
    ),
    faults=(
        FaultSpec("rate_limit", 2, "POST /partner/campaigns/issue", {"retry_after": 1}),
        FaultSpec("lost_answer", 1, "POST /partner/campaigns/issue"),
        FaultSpec("partial_failure", 1, "POST /partner/campaigns/issue", {"error": "not_found"}),
    ),
)
