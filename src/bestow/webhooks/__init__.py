"""Webhooks: endpoints per client, fan-out from the outbox, signed delivery with retries."""
