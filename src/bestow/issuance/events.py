"""Outbox events of batch issuance, with the Partner API's payloads."""

from __future__ import annotations

from typing import Any

from bestow.kit.outbox import event_type

REWARD_ISSUED = event_type("reward.issued", "One reward issued by a batch issuance job")
REWARD_BATCH_COMPLETED = event_type(
    "reward_batch.completed", "A batch issuance job finished (completed or failed)"
)
REWARD_BATCH_REVOKED = event_type(
    "reward_batch.revoked", "Every reward of a batch issuance job was revoked (extension)"
)


def envelope(event: str, timestamp: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": event, "timestamp": timestamp, "data": data}
