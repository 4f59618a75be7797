"""Outbox events of batch issuance, with the Partner API's payloads."""

from __future__ import annotations

from bestow.kit.outbox import event_type

REWARD_ISSUED = event_type(
    "reward.issued", "One reward issued by a batch issuance job", surface="partner"
)
REWARD_BATCH_COMPLETED = event_type(
    "reward_batch.completed",
    "A batch issuance job finished (completed or failed)",
    surface="partner",
)
REWARD_REVOKED = event_type(
    "reward.revoked",
    "One reward revoked with its batch issuance job (extension)",
    surface="partner",
    extension=True,
)
REWARD_BATCH_REVOKED = event_type(
    "reward_batch.revoked",
    "Every reward of a batch issuance job was revoked (extension)",
    surface="partner",
    extension=True,
)
