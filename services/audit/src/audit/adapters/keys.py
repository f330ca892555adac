"""The log's keys, from settings: the current signer (private, the checkpoint worker only), the
public keys auditors trust (current and previous, for rotation) and the cosigners' public keys."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.checkpoint import InvalidKeyError, Signer, Verifier, parse_signer, parse_verifier


class KeyConfigurationError(ValueError):
    """The key settings are missing or inconsistent. The message never contains key material."""


@dataclass(frozen=True)
class LogKeys:
    origin: str
    signer: Signer | None
    current: Verifier | None
    previous: tuple[Verifier, ...] = ()
    cosigners: tuple[Verifier, ...] = field(default=())

    @property
    def trusted(self) -> tuple[Verifier, ...]:
        """Keys whose signatures on a checkpoint of this log are accepted."""
        return tuple(k for k in (self.current, *self.previous) if k is not None)

    def require_signer(self) -> Signer:
        if self.signer is None:
            raise KeyConfigurationError("no checkpoint signer key: set AUDIT_SIGNER_KEY or AUDIT_SIGNER_KEY_FILE")
        return self.signer

    def describe(self) -> dict:
        def one(v: Verifier, status: str) -> dict:
            return {"key": v.key_string(), "name": v.name, "key_id": f"{v.key_id:08x}", "algorithm": "ed25519",
                    "status": status}

        keys = ([one(self.current, "current")] if self.current else []) + [one(v, "previous") for v in self.previous]
        return {"origin": self.origin, "keys": keys, "cosigners": [one(v, "cosigner") for v in self.cosigners]}


def load_keys(settings) -> LogKeys:
    secret = settings.signer_key
    secret = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
    if not secret and settings.signer_key_file:
        try:
            lines = [ln.strip() for ln in settings.signer_key_file.read_text().splitlines()]
        except OSError as exc:
            raise KeyConfigurationError(f"cannot read the signer key file ({type(exc).__name__})") from None
        secret = next((ln for ln in lines if ln and not ln.startswith("#")), None)
    try:
        signer = parse_signer(secret) if secret else None
        current = parse_verifier(settings.verifier_key) if settings.verifier_key else None
        previous = tuple(parse_verifier(k) for k in settings.previous_verifier_keys)
        cosigners = tuple(parse_verifier(k) for k in settings.cosigner_keys)
    except InvalidKeyError as exc:
        raise KeyConfigurationError(f"invalid key in the audit settings: {exc}") from None
    if signer is not None:
        if current is not None and current != signer.verifier:
            raise KeyConfigurationError("AUDIT_VERIFIER_KEY is not the public key of AUDIT_SIGNER_KEY")
        current = signer.verifier
    previous = tuple(v for v in previous if v != current)
    return LogKeys(settings.log_origin, signer, current, previous, cosigners)
