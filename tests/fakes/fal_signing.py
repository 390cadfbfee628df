"""fal's webhook signatures, made with a test Ed25519 key published as a JWKS."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

USER_ID = "fake-fal-user"


class WebhookSigner:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()

    def rotate(self) -> None:
        self.key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "use": "sig"}]}

    def headers(
        self,
        request_id: str,
        body: bytes,
        *,
        key: Ed25519PrivateKey | None = None,
        timestamp: int | None = None,
    ) -> dict[str, str]:
        """fal's webhook headers for this body: the signature covers the request id, the user
        id, the timestamp and the sha256 of the body, one per line."""
        sent_at = str(int(time.time()) if timestamp is None else timestamp)
        digest = hashlib.sha256(body).hexdigest()
        message = f"{request_id}\n{USER_ID}\n{sent_at}\n{digest}".encode()
        return {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": USER_ID,
            "X-Fal-Webhook-Timestamp": sent_at,
            "X-Fal-Webhook-Signature": (key or self.key).sign(message).hex(),
            "Content-Type": "application/json",
        }
