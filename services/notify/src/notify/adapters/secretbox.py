"""Webhook signing secrets at rest: AES-256-GCM under NOTIFY_SECRETS_KEY. A copy of the database alone
does not let anyone forge deliveries to an institution's system."""
from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_AAD = b"careroute-notify-webhook-secret-v1"


class SecretBox:
    def __init__(self, key_b64: str) -> None:
        self._aead = AESGCM(base64.b64decode(key_b64))

    def seal(self, secret: str, endpoint_id: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret.encode(), _AAD + endpoint_id.encode())

    def open(self, sealed: bytes, endpoint_id: str) -> str:
        return self._aead.decrypt(bytes(sealed[:12]), bytes(sealed[12:]), _AAD + endpoint_id.encode()).decode()
