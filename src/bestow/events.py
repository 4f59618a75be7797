"""Every event type of the platform: importing this module declares them all.

Event types are declared by the domains that record them (``bestow.kit.outbox.event_type``); a
process that only manages endpoints (the CLI) imports this module to know them all. A new domain
that records events adds its module here.
"""

from bestow.freebets import events as freebets
from bestow.issuance import events as issuance
from bestow.loyalty import ledger as loyalty
from bestow.vouchers import service as vouchers

__all__ = ["freebets", "issuance", "loyalty", "vouchers"]
