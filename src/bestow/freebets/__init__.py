"""Free bets: the rules of the Operator API (Gamnify-compatible) campaigns, rewards, enrollments,
bets and bulk enrollments.

An operator campaign is the shared ``Campaign`` (``bestow.campaigns``) with ``source="operator"``;
everything else here is free-bet specific. ``campaigns``, ``rewards``, ``enrollments``, ``bets``
and ``bulks`` hold one concern each; ``lifecycle`` derives statuses from time and cancels open
enrollments in cascade; ``events`` declares the webhook events and builds their documented
payloads; ``errors`` names the refusals. The Operator surface (``bestow.surfaces.operator``)
reads bodies and words answers in the vendor's casing; nothing here commits, except the bulk
enrollment worker pipeline (``bulks``), which commits once per chunk.
"""
