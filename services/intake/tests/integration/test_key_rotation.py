"""KEK rotation without downtime: keys wrapped with the previous KEK keep opening while they are
rewrapped progressively under the new one; then the old KEK can go."""
import dataclasses
import json
import os
import secrets
import subprocess
import sys

import pytest
from careroute_devstack.testing import wait_for
from intake.adapters import vault_store
from intake.adapters.orm import vault_keys
from intake.service_layer.context import intake_context
from intake.service_layer.keys import rewrap_keys, stale_key_count
from intake.vault.crypto import KeyRing, LocalKek, UnknownKek
from sqlalchemy import select

from .conftest import marker, register

pytestmark = pytest.mark.integration


def drained(ctx) -> bool:
    """Rewrap what is left (rows locked by the background rewrapper are skipped, not waited for)."""
    rewrap_keys(ctx, batch_size=50)
    return stale_key_count(ctx) == 0


def test_rotation_rewraps_progressively_and_back(intake):
    given = marker("Rotate")
    case = register(intake, given=given)
    ctx = intake_context(intake.runtime)
    old = ctx.keyring.current
    new = LocalKek("rotation-test", secrets.token_bytes(32))
    rotated = dataclasses.replace(ctx, keyring=KeyRing(new, previous=[old]))
    try:
        assert stale_key_count(rotated) >= 1
        with intake.runtime.uow() as uow:  # before rewrapping, the old wrapping still opens
            key = vault_store.load_key(uow.session, rotated.keyring, case["id"])
            assert vault_store.read_identity(uow.session, key)["given_names"] == given
        while rewrap_keys(rotated, batch_size=3, max_batches=1):  # small batches, as in production
            pass
        wait_for(lambda: drained(rotated), message="every key rewrapped")
        with intake.runtime.engine.connect() as conn:
            assert conn.execute(select(vault_keys.c.kek_id).where(vault_keys.c.case_id == case["id"])).scalar() \
                == "rotation-test"
        retired = KeyRing(new)  # the old KEK is no longer needed
        with intake.runtime.uow() as uow:
            key = vault_store.load_key(uow.session, retired, case["id"])
            assert vault_store.read_identity(uow.session, key)["given_names"] == given
            with pytest.raises(UnknownKek):
                vault_store.load_key(uow.session, KeyRing(old), case["id"])
    finally:
        back = dataclasses.replace(ctx, keyring=KeyRing(old, previous=[new]))
        wait_for(lambda: drained(back), message="keys rewrapped back")
    r = intake.call("GET", f"/v1/cases/{case['id']}/identity?purpose=case_management", user="caseworker.tulcan")
    assert r.status_code == 200 and r.json()["given_names"] == given


def test_rewrap_command_line(intake):
    env = {**os.environ, "INTAKE_LOG_LEVEL": "WARNING"}
    out = subprocess.run([sys.executable, "-m", "intake", "rewrap-keys", "--check"], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"current_kek": "dev-1", "keys_on_old_keks": 0}
    new = subprocess.run([sys.executable, "-m", "intake", "new-kek", "--id", "2026-07"], capture_output=True,
                         text=True, timeout=60, check=True)
    assert list(json.loads(new.stdout)) == ["2026-07"]
