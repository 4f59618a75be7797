"""Thanx's checklist, the sections judged from the traffic and the client's data: Campaign
Creation, Reward Issuance, Monitoring & Completion, Revocation and Webhooks."""

from __future__ import annotations

from bestow.lab.certification.core import Item

CAMPAIGN: tuple[Item, ...] = ()
ISSUANCE: tuple[Item, ...] = ()
MONITORING: tuple[Item, ...] = ()
REVOCATION: tuple[Item, ...] = ()
WEBHOOKS: tuple[Item, ...] = ()
