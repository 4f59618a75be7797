"""The Loyalty API's checklist, written by Bestow from ES Loyalty's documents
(exchangesolutionsinc.github.io/es-user-docs): the vendor publishes no certification list."""

from __future__ import annotations

from bestow.lab.certification.core import Checklist

CHECKLIST = Checklist(
    surface="loyalty",
    title="Loyalty API (ES Loyalty): Bestow's integration checklist",
    source="bestow",
    reference="Written by Bestow from ES Loyalty's user documentation "
    "(exchangesolutionsinc.github.io/es-user-docs)",
    items=(),
)
