"""Declares every event type of the platform: importing this module imports every domain module.

Event types are declared by the domains that record them (``bestow.kit.outbox.event_type``); a
process that only manages endpoints (the CLI) imports this module to know them all. Nothing is
listed by hand: ``bestow.domains.load`` finds every module of every domain package. A domain
module imports it inside a function, never at its top: it imports every domain module.
"""

from bestow import domains

MODULES = domains.load()
