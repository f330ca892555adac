"""Every setting a service needs is provided by docker-compose.yml and by every Kubernetes overlay,
to exactly the processes that need it; and nothing is set that no service reads.

Data-driven: the fields come from the services' own Settings classes (env prefix, aliases,
defaults), so a setting added tomorrow is checked tomorrow:
  - a field without a default                                   -> required in every process
  - the deployment-critical fields (CORE)                        -> required in every runtime process
  - a field whose default points at 127.0.0.1/localhost          -> required (only works on a laptop)
  - a secret-like field (SecretStr, or key/secret/password/... in its name) whose default is a
    baked-in development value                                   -> required in every process
  - a secret-like field with an empty default                    -> must be classified in
    SECRET_POLICY below (required where / forbidden where / optional, and why), or the test fails
  - process-scoped settings (PROCESS_SCOPED below, e.g. `metrics_port`, which only relay and worker
    processes read)                                              -> required in those kinds, forbidden in the others
  - `migration_database_url`                                     -> the migrate job only (least privilege)
Conversely every variable a container gets must be a field of its service's Settings, a variable
the code reads directly (os.environ), or (Kubernetes) a helper only used inside $(...) of another.
Secret-like values must come from the environment (compose ${VAR}) or a Secret (Kubernetes
secretKeyRef, or a *_file path inside a mounted Secret volume), never a literal.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from deployment import (
    SERVICES,
    Container,
    all_containers,
    compose_containers,
    directly_read_env,
    is_empty_default,
    is_secret_like,
    points_at_loopback,
    settings_info,
)

pytestmark = pytest.mark.unit

RUNTIME_KINDS = {"api", "relay", "worker", "frontend"}
CORE = {"environment", "database_url", "kafka_bootstrap_servers", "oidc_issuer", "oidc_audience",
        "http_host", "public_base_url"}


@dataclass(frozen=True)
class Rule:
    """A decision about secret-like settings that have no usable default."""
    one_of: tuple[str, ...]                    # any one of these fields satisfies the rule
    required_in: frozenset[str]
    forbidden_in: frozenset[str] = frozenset()
    why: str = ""


def rule(*fields: str, required_in=(), forbidden_in=(), why: str = "") -> Rule:
    return Rule(tuple(fields), frozenset(required_in), frozenset(forbidden_in), why)


# Settings only some process kinds read: required there, forbidden elsewhere (elsewhere it would be
# a setting nothing reads, and a shared ConfigMap would hide which process actually uses it).
PROCESS_SCOPED: dict[str, tuple[frozenset[str], str]] = {
    "metrics_port": (frozenset({"relay", "worker"}),
                     "careroute_platform.service.run_workers serves /metrics and /livez there; the api serves "
                     "them on http_port, the migrate job serves nothing"),
}


SECRET_POLICY: dict[str, list[Rule]] = {
    "intake": [
        rule("kek", "kek_file", required_in={"api", "worker"}, forbidden_in={"relay", "migrate"},
             why="the vault's key-encryption key: only the processes that open the vault"),
        rule("duplicate_hmac_key", "duplicate_hmac_key_file", required_in={"api", "worker"},
             forbidden_in={"relay", "migrate"}, why="possible-duplicate detection (api and rewrap/clock worker)"),
        rule("kek_previous", forbidden_in={"relay", "migrate"}, why="earlier KEKs, during a rotation only"),
    ],
    "audit": [
        rule("signer_key", "signer_key_file", required_in={"worker"}, forbidden_in={"api", "relay", "migrate"},
             why="the checkpoint signer's private key: the checkpoint worker only"),
        rule("verifier_key", required_in={"api"}, why="public key for the auditor API (the worker derives it)"),
        rule("previous_verifier_keys", why="earlier public keys, after a rotation"),
        rule("cosigner_keys", why="public keys of cosigning organisations, if any"),
    ],
    "notify": [
        rule("directory_client_secret", required_in={"api", "worker"},
             why="client careroute-notify's secret for directory look-ups (empty default, so not auto-required)"),
        rule("smtp_password", why="only for relays that authenticate"),
    ],
    "frontend": [
        rule("audit_verifier_keys", required_in={"frontend"},
             why="the auditor pages verify checkpoints against keys from a channel independent of the audit service"),
    ],
}


def kinds_of(service: str) -> set[str]:
    return {"frontend"} if service == "frontend" else {"migrate", "api", "relay", "worker"}


def expectations(service: str) -> tuple[dict[str, list[set[str]]], dict[str, set[str]], list[str]]:
    """(kind -> list of alternatives that must each be satisfied, kind -> forbidden fields, problems)"""
    info = settings_info(service)
    required: dict[str, list[set[str]]] = {k: [] for k in kinds_of(service)}
    forbidden: dict[str, set[str]] = {k: set() for k in kinds_of(service)}
    problems: list[str] = []
    policy = SECRET_POLICY.get(service, [])
    classified = {f for r in policy for f in r.one_of}
    for name in classified - set(info.fields):
        problems.append(f"{service}: SECRET_POLICY names {name!r}, which {info.cls.__name__} no longer has")

    for f in info.fields.values():
        for kind in kinds_of(service):
            runtime = kind in RUNTIME_KINDS
            if f.name in PROCESS_SCOPED:
                if kind in PROCESS_SCOPED[f.name][0]:
                    required[kind].append({f.name})
                else:
                    forbidden[kind].add(f.name)
                continue
            if f.name == "migration_database_url":
                if kind == "migrate":
                    required[kind].append({f.name})
                else:
                    forbidden[kind].add(f.name)
                continue
            if f.name in classified:
                continue
            if (f.required or (runtime or kind == "migrate") and f.name in CORE or points_at_loopback(f)
                    or (is_secret_like(f) and not is_empty_default(f))):
                required[kind].append({f.name})
        if is_secret_like(f) and is_empty_default(f) and f.name not in classified:
            problems.append(f"{service}: secret-like setting {f.name!r} has no usable default; classify it in "
                            f"deploy/tests/test_settings_coverage.py SECRET_POLICY (where it is required, "
                            f"forbidden or optional) and provide it in docker-compose.yml and deploy/k8s")
    for r in policy:
        for kind in kinds_of(service):
            if kind in r.required_in:
                required[kind].append(set(r.one_of))
            if kind in r.forbidden_in:
                forbidden[kind] |= set(r.one_of)
    return required, forbidden, problems


def provided_fields(container: Container) -> tuple[set[str], list[str]]:
    """Fields the container's variables set, and the variables no one reads."""
    info = settings_info(container.service)
    fields, dead = set(), []
    direct = directly_read_env()
    for name in container.env:
        f = info.field_for_env(name)
        if f is not None:
            fields.add(f.name)
        elif name in container.helpers or name in direct:
            continue
        else:
            dead.append(name)
    return fields, dead


CONTAINERS = all_containers()


def _id(c: Container) -> str:
    return f"{c.where}:{c.name}"


def test_process_scoped_settings_still_exist():
    """PROCESS_SCOPED names fields the services really have (a renamed field must be renamed here)."""
    for name in PROCESS_SCOPED:
        assert any(name in settings_info(s).fields for s in SERVICES), f"PROCESS_SCOPED names {name!r}, no service has it"


def test_metrics_port_belongs_to_relay_and_worker():
    for service in SERVICES:
        assert "metrics_port" in settings_info(service).fields, f"{service}: the platform's metrics_port is gone"
        required, forbidden, _ = expectations(service)
        for kind in ("relay", "worker"):
            assert {"metrics_port"} in required[kind]
        for kind in ("api", "migrate"):
            assert "metrics_port" in forbidden[kind]


@pytest.mark.parametrize("service", [*SERVICES, "frontend"])
def test_every_secret_like_setting_is_classified(service):
    _, _, problems = expectations(service)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("container", CONTAINERS, ids=_id)
def test_container_gets_every_setting_it_needs(container):
    required, _, _ = expectations(container.service)
    provided, _ = provided_fields(container)
    missing = [" or ".join(sorted(alt)) for alt in required[container.kind] if not alt & provided]
    assert not missing, f"{container.where} {container.name} ({container.kind}) lacks: {missing}"


@pytest.mark.parametrize("container", CONTAINERS, ids=_id)
def test_container_gets_nothing_it_must_not_hold(container):
    _, forbidden, _ = expectations(container.service)
    provided, _ = provided_fields(container)
    extra = sorted(provided & forbidden[container.kind])
    assert not extra, f"{container.where} {container.name} ({container.kind}) must not get {extra}"


@pytest.mark.parametrize("container", CONTAINERS, ids=_id)
def test_no_dead_settings(container):
    _, dead = provided_fields(container)
    assert not dead, (f"{container.where} {container.name} sets variables {container.service} does not read: "
                      f"{sorted(dead)}")


@pytest.mark.parametrize("container", CONTAINERS, ids=_id)
def test_secret_values_are_never_literals(container):
    info = settings_info(container.service)
    for name, value in container.env.items():
        f = info.field_for_env(name)
        if f is None or not is_secret_like(f):
            continue
        if container.where == "compose":
            assert isinstance(value, str) and value.startswith("${"), f"{container.name}: {name} is a literal"
        elif isinstance(value, dict) and "valueFrom" in value:
            assert "secretKeyRef" in value["valueFrom"], f"{container.name}: {name} must come from a Secret"
        elif isinstance(value, dict) and f.name.endswith("_file"):
            path = value.get("value", "")
            assert any(path.startswith(m.rstrip("/") + "/") for m in container.secret_mounts), \
                f"{container.name}: {name}={path} is not inside a mounted Secret volume"
        else:
            pytest.fail(f"{container.where} {container.name}: {name} must come from a Secret, not a literal")
    # and the database URLs carry their passwords from Secrets too
    for name, value in container.env.items():
        if name.endswith("DATABASE_URL") and container.where != "compose":
            assert "$(" in str(value.get("value", "")), f"{container.name}: {name} must take its password from a Secret"


def test_compose_and_kubernetes_cover_the_same_processes():
    compose_set = {(c.service, c.kind) for c in compose_containers()}
    for overlay in ("dev", "prod"):
        k8s_set = {(c.service, c.kind) for c in CONTAINERS if c.where == f"k8s/{overlay}"}
        assert compose_set == k8s_set
    assert compose_set == {(s, k) for s in SERVICES for k in ("migrate", "api", "relay", "worker")} | {
        ("frontend", "frontend")}


def test_rules_catch_settings_added_later(monkeypatch):
    """The rules come from the Settings classes: a field added tomorrow is required (no default,
    loopback default, baked-in secret) or must be classified (secret without default)."""
    import deployment
    from careroute_platform.settings import ServiceSettings
    from pydantic import SecretStr
    from pydantic_settings import SettingsConfigDict

    class Tomorrow(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")
        migration_database_url: str | None = None
        partner_api_token: str                                   # no default
        sms_gateway_url: str = "http://127.0.0.1:9999"           # only works on a laptop
        sms_signing_secret: SecretStr = SecretStr("dev-secret")  # baked-in development secret
        backup_passphrase: SecretStr | None = None               # secret, no usable default
        page_size: int = 20                                      # an ordinary tunable

    real = deployment.settings_info

    def fake(service):
        if service != "intake":
            return real(service)
        info = deployment.ServiceSettingsInfo("intake", Tomorrow, "INTAKE_")
        for name, f in Tomorrow.model_fields.items():
            default = None if f.is_required() else f.get_default(call_default_factory=True)
            info.fields[name] = deployment.SettingField(name, frozenset({f"INTAKE_{name}".upper()}),
                                                        f.is_required(), default, f.annotation)
        return info

    monkeypatch.setitem(globals(), "settings_info", fake)
    monkeypatch.setattr(deployment, "settings_info", fake)
    monkeypatch.setitem(SECRET_POLICY, "intake", [])
    required, forbidden, problems = expectations("intake")
    needed = {name for alternatives in required["api"] for name in alternatives}
    assert {"partner_api_token", "sms_gateway_url", "sms_signing_secret", "database_url"} <= needed
    assert "page_size" not in needed
    assert any("backup_passphrase" in p for p in problems)
    assert "migration_database_url" in forbidden["api"]
    assert {"migration_database_url"} in required["migrate"]
    assert {"metrics_port"} in required["relay"] and {"metrics_port"} in required["worker"]
    assert "metrics_port" in forbidden["api"] and "metrics_port" in forbidden["migrate"]
    container = next(c for c in compose_containers() if c.name == "intake-api")
    provided, dead = provided_fields(container)
    missing = [alt for alt in required["api"] if not alt & provided]
    assert {"partner_api_token"} in missing
    assert {"INTAKE_KEK", "INTAKE_DUPLICATE_HMAC_KEY"} <= set(dead), "Tomorrow has no such fields: dead settings"
