"""The Operator API's checklist, written by Bestow from Gamnify's documents
(docs.gamnify.tech): the vendor publishes no certification list."""

from __future__ import annotations

from bestow.lab.certification.core import Checklist

CHECKLIST = Checklist(
    surface="operator",
    title="Operator API (Gamnify): Bestow's integration checklist",
    source="bestow",
    reference="Written by Bestow from Gamnify's documentation (docs.gamnify.tech)",
    items=(),
)
