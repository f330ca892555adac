"""Loading the KEKs and the duplicate-detection secret from settings.

- `INTAKE_KEK`: `<key-id>:<base64 of 32 bytes>` (the current KEK);
  `INTAKE_KEK_PREVIOUS`: a JSON list of the same form (older KEKs, kept until every key is rewrapped).
- or `INTAKE_KEK_FILE`: a JSON file `{"current": "<key-id>", "keys": {"<key-id>": "<base64>", ...}}`
  (e.g. a mounted Kubernetes secret). Rotation without downtime: add the new key, point `current` at
  it, restart replicas one by one, run `python -m intake rewrap-keys` (or let the background
  rewrapper do it), then remove the old key once `rewrap-keys --check` reports none left.
- `INTAKE_DUPLICATE_HMAC_KEY` (base64, at least 32 bytes) or `INTAKE_DUPLICATE_HMAC_KEY_FILE`.
In production a missing key is a startup error. In development without configuration an ephemeral
key is generated (data then cannot be read after a restart) and a warning is logged; the embedded
stack's `dev_env` writes persistent development keys instead."""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
from pathlib import Path

from .crypto import KeyEncryptionKey, KeyRing, LocalKek

log = logging.getLogger(__name__)


class KeyConfigurationError(RuntimeError):
    """A startup error; its message names settings, never key material."""


def _decode(value: str, what: str, min_bytes: int = 32, exact: bool = True) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigurationError(f"{what} is not valid base64") from exc
    if (exact and len(raw) != min_bytes) or len(raw) < min_bytes:
        raise KeyConfigurationError(f"{what} must be {'exactly' if exact else 'at least'} {min_bytes} bytes")
    return raw


def _parse_pair(value: str, what: str) -> LocalKek:
    key_id, sep, material = value.partition(":")
    if not sep:
        raise KeyConfigurationError(f"{what} must be '<key-id>:<base64 key>'")
    try:
        return LocalKek(key_id.strip(), _decode(material, what))
    except ValueError as exc:
        raise KeyConfigurationError(f"{what}: {exc}") from exc


def _check_file(path: Path, what: str) -> None:
    if not path.exists():
        raise KeyConfigurationError(f"{what} does not exist")
    mode = path.stat().st_mode
    if mode & 0o077:
        log.warning("key file readable by group or others", extra={"action": what})


def load_keyring(settings) -> KeyRing:
    if settings.kek_file:
        path = Path(settings.kek_file)
        _check_file(path, "INTAKE_KEK_FILE")
        try:
            spec = json.loads(path.read_text())
            current_id = spec["current"]
            keks = {kid: LocalKek(kid, _decode(value, f"INTAKE_KEK_FILE key {kid}")) for kid, value in spec["keys"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyConfigurationError("INTAKE_KEK_FILE must be {\"current\": id, \"keys\": {id: base64}}") from exc
        if current_id not in keks:
            raise KeyConfigurationError("INTAKE_KEK_FILE: the current key id is not among the keys")
        return KeyRing(keks[current_id], [k for kid, k in keks.items() if kid != current_id])
    if settings.kek is not None:
        current = _parse_pair(settings.kek.get_secret_value(), "INTAKE_KEK")
        previous: list[KeyEncryptionKey] = [_parse_pair(p.get_secret_value(), "INTAKE_KEK_PREVIOUS")
                                            for p in settings.kek_previous]
        return KeyRing(current, previous)
    if settings.is_production:
        raise KeyConfigurationError("INTAKE_KEK_FILE or INTAKE_KEK is required in production")
    log.warning("no KEK configured: using an ephemeral development key (vault data will not survive a restart)")
    return KeyRing(LocalKek("ephemeral-dev", secrets.token_bytes(32)))


def load_duplicate_key(settings) -> bytes:
    if settings.duplicate_hmac_key_file:
        path = Path(settings.duplicate_hmac_key_file)
        _check_file(path, "INTAKE_DUPLICATE_HMAC_KEY_FILE")
        return _decode(path.read_text(), "INTAKE_DUPLICATE_HMAC_KEY_FILE", exact=False)
    if settings.duplicate_hmac_key is not None:
        return _decode(settings.duplicate_hmac_key.get_secret_value(), "INTAKE_DUPLICATE_HMAC_KEY", exact=False)
    if settings.is_production:
        raise KeyConfigurationError("INTAKE_DUPLICATE_HMAC_KEY_FILE or INTAKE_DUPLICATE_HMAC_KEY is required in production")
    log.warning("no duplicate-detection key configured: using an ephemeral development key")
    return secrets.token_bytes(32)


def write_dev_keys(directory: Path) -> tuple[Path, Path]:
    """Persistent development keys (0600) for the embedded stack."""
    directory.mkdir(parents=True, exist_ok=True)
    kek_file, hmac_file = directory / "intake-kek.json", directory / "intake-duplicate-hmac.key"
    for path, content in ((kek_file, lambda: json.dumps({"current": "dev-1", "keys": {
            "dev-1": base64.b64encode(secrets.token_bytes(32)).decode()}})),
            (hmac_file, lambda: base64.b64encode(secrets.token_bytes(32)).decode())):
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(content())
    return kek_file, hmac_file


def new_kek_entry() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()
