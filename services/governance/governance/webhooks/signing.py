"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""

from __future__ import annotations

import base64
import hashlib
import hmac

from finops.domain.budgets import secret_bytes

__all__ = ["signed_headers"]


def signed_headers(
    secret: str, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one signed request (the body is sent byte for byte as signed)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }
