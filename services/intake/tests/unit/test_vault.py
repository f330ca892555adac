"""The vault's envelope encryption: per-case data keys, AAD binding, KEK rotation, crypto-shredding."""
import base64
import json
import secrets

import pytest
from intake.settings import IntakeSettings
from intake.vault.crypto import CaseKey, KeyEncryptionKey, KeyRing, LocalKek, UnknownKek, VaultError
from intake.vault.keyring import KeyConfigurationError, load_duplicate_key, load_keyring, write_dev_keys
from pydantic import SecretStr

pytestmark = pytest.mark.unit
CASE = "6f1c1a52-3d0e-4b8e-9a57-0c7a1d3c2b11"
OTHER = "0d6a9c3e-8f5b-4c2a-b1e7-3a9d2c4e5f60"


def kek(kid="k1"):
    return LocalKek(kid, secrets.token_bytes(32))


def test_seal_and_open_round_trip():
    key = CaseKey.generate(CASE)
    blob = key.seal_json("given_names", "María José")
    assert b"Mar" not in blob
    assert key.open_json("given_names", blob) == "María José"


def test_each_seal_uses_a_fresh_nonce():
    key = CaseKey.generate(CASE)
    assert key.seal("phone", b"same") != key.seal("phone", b"same")


@pytest.mark.parametrize("case_id, field", [(OTHER, "given_names"), (CASE, "family_names")])
def test_ciphertext_moved_to_another_case_or_field_does_not_open(case_id, field):
    key = CaseKey.generate(CASE)
    blob = key.seal_json("given_names", "Ana")
    moved = CaseKey(case_id, key.material)
    with pytest.raises(VaultError):
        moved.open_json(field, blob)


def test_tampered_ciphertext_does_not_open():
    key = CaseKey.generate(CASE)
    blob = bytearray(key.seal_json("phone", "+593991234567"))
    blob[-1] ^= 1
    with pytest.raises(VaultError):
        key.open_json("phone", bytes(blob))


def test_wrapped_key_is_bound_to_its_case():
    ring = KeyRing(kek())
    kid, wrapped = ring.wrap(b"k" * 32, case_id=CASE)
    assert ring.unwrap(kid, wrapped, case_id=CASE) == b"k" * 32
    with pytest.raises(VaultError):
        ring.unwrap(kid, wrapped, case_id=OTHER)


def test_kek_rotation_rewraps_and_old_kek_can_then_be_retired():
    old, new = kek("2025-01"), kek("2026-01")
    before = KeyRing(old)
    data_key = CaseKey.generate(CASE)
    blob = data_key.seal_json("document_number", "V-12345678")
    kid, wrapped = before.wrap(data_key.material, case_id=CASE)

    during = KeyRing(new, previous=[old])          # deployed with the new current KEK and the old one
    assert during.needs_rewrap(kid)
    assert during.unwrap(kid, wrapped, case_id=CASE) == data_key.material  # old keys still open
    kid2, wrapped2 = during.rewrap(kid, wrapped, case_id=CASE)
    assert kid2 == "2026-01" and not during.needs_rewrap(kid2)

    after = KeyRing(new)                            # old KEK removed once every key was rewrapped
    reopened = CaseKey(CASE, after.unwrap(kid2, wrapped2, case_id=CASE))
    assert reopened.open_json("document_number", blob) == "V-12345678"
    with pytest.raises(UnknownKek):
        after.unwrap(kid, wrapped, case_id=CASE)


def test_erasure_destroying_the_data_key_makes_ciphertexts_unreadable():
    ring = KeyRing(kek())
    data_key = CaseKey.generate(CASE)
    blob = data_key.seal_json("given_names", "Ana")
    _kid, _wrapped = ring.wrap(data_key.material, case_id=CASE)
    del data_key, _wrapped  # the erasure deletes the wrapped key: what remains is the ciphertext and KEKs
    for _ in range(50):    # no KEK and no other key opens it
        with pytest.raises(VaultError):
            CaseKey(CASE, secrets.token_bytes(32)).open_json("given_names", blob)


class FakeKms:
    """A KMS-backed KEK only needs the protocol: key_id, wrap, unwrap (context = encryption context)."""

    def __init__(self):
        self.key_id = "kms:alias/careroute-intake"
        self._inner = LocalKek("inner", secrets.token_bytes(32))

    def wrap(self, data_key, *, context):
        return self._inner.wrap(data_key, context=context)

    def unwrap(self, wrapped, *, context):
        return self._inner.unwrap(wrapped, context=context)


def test_a_kms_plugs_in_through_the_protocol():
    kms = FakeKms()
    assert isinstance(kms, KeyEncryptionKey)
    ring = KeyRing(kms)
    kid, wrapped = ring.wrap(b"x" * 32, case_id=CASE)
    assert kid == "kms:alias/careroute-intake" and ring.unwrap(kid, wrapped, case_id=CASE) == b"x" * 32


def test_key_repr_never_shows_material():
    material = secrets.token_bytes(32)
    assert material.hex() not in repr(LocalKek("k", material)) + repr(CaseKey(CASE, material))


# ------------------------------------------------------------------------------------- settings
@pytest.fixture(autouse=True)
def _no_intake_environment(monkeypatch):
    """Settings tests must not see the INTAKE_* variables an integration harness exported."""
    import os

    for name in list(os.environ):
        if name.startswith("INTAKE_"):
            monkeypatch.delenv(name)


def _b64():
    return base64.b64encode(secrets.token_bytes(32)).decode()


def test_keyring_from_env_pair_with_previous_keys():
    settings = IntakeSettings(kek=SecretStr(f"new:{_b64()}"), kek_previous=[SecretStr(f"old:{_b64()}")])
    ring = load_keyring(settings)
    assert ring.current.key_id == "new" and ring.key_ids == ["new", "old"]


def test_keyring_from_file(tmp_path):
    path = tmp_path / "kek.json"
    path.write_text(json.dumps({"current": "b", "keys": {"a": _b64(), "b": _b64()}}))
    path.chmod(0o600)
    ring = load_keyring(IntakeSettings(kek_file=path))
    assert ring.current.key_id == "b" and ring.key_ids == ["a", "b"]


def test_missing_kek_is_a_startup_error_in_production():
    with pytest.raises(KeyConfigurationError, match="INTAKE_KEK"):
        load_keyring(IntakeSettings(environment="production"))
    with pytest.raises(KeyConfigurationError, match="INTAKE_DUPLICATE_HMAC_KEY"):
        load_duplicate_key(IntakeSettings(environment="production"))


def test_development_without_keys_uses_ephemeral_ones():
    assert load_keyring(IntakeSettings(environment="development")).current.key_id == "ephemeral-dev"


def test_bad_key_material_is_refused_without_quoting_it():
    bad = "c2hvcnQ="  # "short"
    with pytest.raises(KeyConfigurationError) as err:
        load_keyring(IntakeSettings(kek=SecretStr(f"k:{bad}")))
    assert bad not in str(err.value)


def test_dev_keys_are_written_once_and_private(tmp_path):
    kek_file, hmac_file = write_dev_keys(tmp_path)
    first = kek_file.read_text()
    write_dev_keys(tmp_path)
    assert kek_file.read_text() == first
    assert kek_file.stat().st_mode & 0o077 == 0 and hmac_file.stat().st_mode & 0o077 == 0
    assert load_keyring(IntakeSettings(kek_file=kek_file)).current.key_id == "dev-1"
    assert len(load_duplicate_key(IntakeSettings(duplicate_hmac_key_file=hmac_file))) == 32
