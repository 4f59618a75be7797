"""The Voucher API's checklist: UNIQREWARDS's integration process (seed ``001_*``,
documentation.api.uniqrewards.com "Integration process"): the demo exploration, the user
acceptance tests and the go-live requirements, in the vendor's words."""

from __future__ import annotations

from bestow.lab.certification.core import Checklist

CHECKLIST = Checklist(
    surface="vouchers",
    title="Voucher API (UNIQREWARDS): integration process, UAT and go-live",
    source="vendor",
    reference="UNIQREWARDS, Integration process (documentation.api.uniqrewards.com)",
    items=(),
)
