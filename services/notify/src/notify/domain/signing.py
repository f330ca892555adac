"""Standard Webhooks signatures (https://www.standardwebhooks.com).

A secret is `whsec_` + base64 of random bytes. Each delivery attempt carries `webhook-id` (the message
id, the same on every retry so receivers can de-duplicate), `webhook-timestamp` (Unix seconds of this
attempt) and `webhook-signature`: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`. While a
secret is being rotated the body is signed with both secrets, signatures separated by a space, so a
receiver can switch secrets at its own pace."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets

PREFIX = "whsec_"
SECRET_BYTES = 32


class InvalidSecret(ValueError):
    pass


def generate_secret() -> str:
    return PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise InvalidSecret("secret must start with whsec_")
    try:
        key = base64.b64decode(secret[len(PREFIX):], validate=True)
    except ValueError as exc:
        raise InvalidSecret("secret is not base64") from exc
    if len(key) < 24:
        raise InvalidSecret("secret too short")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets, msg_id, timestamp, body)}


def verify(secret: str, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does (used by tests and by the documentation's example)."""
    expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for candidate in header.split(" "):
        version, _, sig = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False
