"""The key material the deployment scripts generate is what the services accept: parsed here with
the services' own parsers (audit's signed-note keys, intake's KEK pairs, notify's secrets key)."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess

import pytest
from deployment import ROOT

pytestmark = pytest.mark.unit

needs_openssl = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")


def generated_env(mode: str = "development") -> dict[str, str]:
    out = subprocess.run(["sh", str(ROOT / "deploy" / "compose" / "generate-env.sh"), mode],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    env = {}
    for line in out.splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key] = value.strip("'")
    return env


@needs_openssl
def test_audit_keypair_script_output_is_a_valid_signer_and_its_verifier():
    from audit.domain.checkpoint import parse_signer, parse_verifier

    out = subprocess.run(["sh", str(ROOT / "deploy" / "keys" / "audit-keypair.sh"), "careroute.example.org/audit"],
                         capture_output=True, text=True, check=True).stdout.split()
    signer, verifier = parse_signer(out[0]), parse_verifier(out[1])
    assert signer.verifier == verifier
    assert verifier.name == "careroute.example.org/audit"


@needs_openssl
def test_generated_env_keys_parse_with_the_services_parsers():
    from audit.domain.checkpoint import parse_signer, parse_verifier
    from intake.vault.keyring import _parse_pair

    env = generated_env()
    assert parse_signer(env["AUDIT_SIGNER_KEY"]).verifier == parse_verifier(env["AUDIT_VERIFIER_KEY"])
    assert parse_verifier(env["AUDIT_VERIFIER_KEY"]).name == env["AUDIT_LOG_ORIGIN"]
    assert json.loads(env["FRONTEND_AUDIT_VERIFIER_KEYS"]) == [env["AUDIT_VERIFIER_KEY"]]
    _parse_pair(env["INTAKE_KEK"], "INTAKE_KEK")
    assert json.loads(env["INTAKE_KEK_PREVIOUS"]) == []
    assert len(base64.b64decode(env["INTAKE_DUPLICATE_HMAC_KEY"], validate=True)) >= 32
    assert len(base64.b64decode(env["NOTIFY_SECRETS_KEY"], validate=True)) == 32


@needs_openssl
def test_generated_env_builds_valid_settings_for_every_service(monkeypatch):
    """The generated values, interpolated the way compose does, satisfy the Settings classes
    (including notify's production rules with the production profile's SMTP values)."""
    from deployment import SETTINGS_MODULES, compose_containers, settings_class

    def interpolate(text: str, env: dict[str, str]) -> str:
        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?([^}]*)\}",
                      lambda m: env.get(m.group(1)) or (m.group(3) if m.group(2) in (":-", "-") else ""), text)

    for mode in ("development", "production"):
        env = generated_env(mode)
        for container in compose_containers():
            values = {name: interpolate(str(raw), env) for name, raw in container.env.items()}
            with monkeypatch.context() as m:
                for key in list(os.environ):
                    if key.startswith(("INTAKE_", "REFERRAL_", "NOTIFY_", "AUDIT_", "FRONTEND_")):
                        m.delenv(key, raising=False)
                for key, value in values.items():
                    m.setenv(key, value)
                settings = settings_class(SETTINGS_MODULES[container.service])()
                check_keys(container, settings)


def check_keys(container, settings) -> None:
    """The key material reaches the code that uses it, in the processes that use it."""
    if container.service == "intake" and container.kind in ("api", "worker"):
        from intake.vault.keyring import load_duplicate_key, load_keyring

        load_keyring(settings)
        load_duplicate_key(settings)
    if container.service == "audit" and container.kind in ("api", "worker"):
        from audit.adapters.keys import load_keys

        keys = load_keys(settings)
        assert keys.current is not None
        if container.kind == "worker":
            keys.require_signer()
