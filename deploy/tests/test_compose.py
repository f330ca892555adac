"""docker-compose.yml: valid against the Compose Specification (offline, check-jsonschema's bundled
schema), complete, health-checked, hardened, and its variables all documented and generated."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deployment import COMPOSE_FILE, PROCESS_KINDS, ROOT, SERVICES, compose

pytestmark = pytest.mark.unit

INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def check_jsonschema() -> list[str]:
    exe = Path(sys.executable).with_name("check-jsonschema")
    if exe.exists():
        return [str(exe)]
    if shutil.which("check-jsonschema"):
        return ["check-jsonschema"]
    return [sys.executable, "-m", "check_jsonschema"]


def test_compose_file_is_valid_against_the_compose_spec():
    result = subprocess.run([*check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_compose_file(tmp_path):
    """The schema check above is not vacuous."""
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  x:\n    image: postgres:17\n    depends_on:\n      y:\n        condition: sometimes\n")
    result = subprocess.run([*check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(broken)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0


def _variables(node, found: dict[str, set[str]]) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _variables(value, found)
    elif isinstance(node, list):
        for value in node:
            _variables(value, found)
    elif isinstance(node, str):
        for name, op, _ in INTERPOLATION.findall(node):
            found.setdefault(name, set()).add(op)


def compose_variables() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    _variables(compose(), found)
    return found


def test_every_service_has_migrate_api_relay_worker_and_they_wait_for_their_dependencies():
    services = compose()["services"]
    for svc in SERVICES:
        for kind in PROCESS_KINDS:
            assert f"{svc}-{kind}" in services, f"{svc}-{kind} missing"
        migrate = services[f"{svc}-migrate"]
        assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
        assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
        for kind in ("api", "relay", "worker"):
            proc = services[f"{svc}-{kind}"]
            assert proc["command"] == [kind]
            deps = proc["depends_on"]
            assert deps[f"{svc}-migrate"]["condition"] == "service_completed_successfully"
            assert deps["kafka-init"]["condition"] == "service_completed_successfully"
            assert deps["postgres"]["condition"] == "service_healthy"
    assert services["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["frontend"]["depends_on"]["intake-api"]["condition"] == "service_healthy"


def test_health_checks_where_something_waits_on_health():
    services = compose()["services"]
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            if isinstance(spec, dict) and spec.get("condition") == "service_healthy":
                target = services[dep]
                # the Care Route images carry a HEALTHCHECK (test_dockerfiles); others need one here
                has_image_check = "build" in target and "Dockerfile" in target["build"].get("dockerfile", "")
                assert "healthcheck" in target or has_image_check, f"{name} waits for {dep}'s health, which has no check"
                assert not (target.get("healthcheck") or {}).get("disable"), f"{dep} disables its health check"
    for svc in SERVICES:
        # the migrate job serves no HTTP: the image's /livez check would mark it unhealthy forever
        assert services[f"{svc}-migrate"]["healthcheck"] == {"disable": True}


def test_relays_and_workers_serve_metrics_and_are_health_checked_on_their_metrics_port():
    """<SVC>_METRICS_PORT in every relay and worker (only there), and a /livez health check on that
    port instead of the image's, which asks the api's port."""
    services = compose()["services"]
    for svc in SERVICES:
        variable = f"{svc.upper()}_METRICS_PORT"
        for kind in ("relay", "worker"):
            container = services[f"{svc}-{kind}"]
            port = container["environment"].get(variable)
            assert port and str(port).isdigit(), f"{svc}-{kind}: no {variable}"
            check = container.get("healthcheck") or {}
            assert not check.get("disable"), f"{svc}-{kind}: health check disabled"
            test = " ".join(check.get("test", []))
            assert check["test"][0] in ("CMD", "CMD-SHELL") and "python" in test and "curl" not in test, test
            assert f"http://127.0.0.1:{port}/livez" in test, f"{svc}-{kind}: the health check must ask /livez on {port}"
        for kind in ("api", "migrate"):
            assert variable not in services[f"{svc}-{kind}"]["environment"], f"{svc}-{kind} serves no metrics port"


def test_pinned_images():
    for name, svc in compose()["services"].items():
        image = svc.get("image", "")
        assert image, f"{name} has no image"
        if "build" in svc:
            continue
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
    services = compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["keycloak-dev"]["image"].startswith("quay.io/keycloak/keycloak:26.")
    assert re.match(r"postgres:1[78]", services["postgres"]["image"])


def test_kafka_is_kraft_without_auto_created_topics():
    env = compose()["services"]["kafka"]["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "ZOOKEEPER" not in " ".join(env)


def test_profiles():
    services = compose()["services"]
    assert services["keycloak-dev"]["profiles"] == ["dev"]
    assert services["keycloak-dev"]["command"] == ["start-dev", "--import-realm"]
    assert services["mailpit"]["profiles"] == ["dev"]
    assert services["keycloak"]["profiles"] == ["prod"]
    assert services["keycloak"]["command"][:2] == ["start", "--optimized"]
    assert services["keycloak-db"]["profiles"] == ["prod"]
    assert services["keycloak"]["depends_on"]["keycloak-db"]["condition"] == "service_healthy"
    # a profile-less service may only depend on a profiled one optionally
    for name, svc in services.items():
        if svc.get("profiles"):
            continue
        for dep, spec in (svc.get("depends_on") or {}).items():
            if services[dep].get("profiles"):
                assert spec.get("required") is False, f"{name} -> {dep} must be required: false"


def test_realms_mounted_for_import():
    services = compose()["services"]
    assert "./deploy/keycloak/careroute-realm.json:/opt/keycloak/data/import/careroute-realm.json:ro" in \
        services["keycloak-dev"]["volumes"]
    assert ("./deploy/keycloak/production/careroute-realm.json:/opt/keycloak/data/import/careroute-realm.json:ro"
            in services["keycloak"]["volumes"])


def test_app_containers_are_hardened():
    for name, svc in compose()["services"].items():
        if not ("build" in svc and svc["build"]["context"] == "."):
            continue
        assert svc["read_only"] is True, name
        assert svc["user"] == "10001:10001", name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert any(t.startswith("/tmp") for t in svc["tmpfs"]), name


def test_secrets_are_required_from_the_environment_never_defaulted():
    secretish = re.compile(r"PASSWORD|SECRET|_KEY$|_KEYS$|KEK")
    for name, ops in compose_variables().items():
        if secretish.search(name) and not name.endswith(("_PREVIOUS", "PREVIOUS_VERIFIER_KEYS")) \
                and name not in {"NOTIFY_SMTP_PASSWORD"}:
            assert ops == {":?"}, f"${{{name}}} must be ${{{name}:?}} (no default for a secret)"


def _env_file(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        value = value.split(" #", 1)[0].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def test_every_variable_is_documented_in_env_example():
    documented = _env_file((ROOT / "deploy" / "compose" / "env.example").read_text())
    missing = sorted(set(compose_variables()) - set(documented))
    assert not missing, f"document these in deploy/compose/env.example: {missing}"


@pytest.mark.parametrize("mode", ["development", "production"])
def test_generated_env_satisfies_every_required_variable(mode):
    out = subprocess.run(["sh", str(ROOT / "deploy" / "compose" / "generate-env.sh"), mode],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    env = _env_file(out)
    for name, ops in compose_variables().items():
        if ":?" in ops:
            assert env.get(name), f"generate-env.sh {mode} leaves {name} empty"
    assert env["COMPOSE_PROFILES"] == {"development": "dev", "production": "prod"}[mode]
    assert env["CAREROUTE_ENVIRONMENT"] == mode
    assert env["CAREROUTE_OIDC_ISSUER"] == env["KEYCLOAK_PUBLIC_URL"] + "/realms/careroute"
    for key in ("POSTGRES_PASSWORD", "INTAKE_DB_PASSWORD", "AUDIT_DB_OWNER_PASSWORD"):
        assert re.fullmatch(r"[0-9a-f]{48}", env[key]), "database passwords must be URL-safe"
    if mode == "production":
        assert env["FRONTEND_OIDC_CLIENT_SECRET"] != "dev-frontend-secret"
        assert env["NOTIFY_SMTP_STARTTLS"] == "true"
        assert env["REFERRAL_SEED_DIRECTORY"] == "false"


def test_development_issuer_matches_keycloak_dev():
    out = subprocess.run(["sh", str(ROOT / "deploy" / "compose" / "generate-env.sh")],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    env = _env_file(out)
    kc = compose()["services"]["keycloak-dev"]
    assert env["KEYCLOAK_PUBLIC_URL"] == kc["environment"]["KC_HOSTNAME"]
    alias = env["KEYCLOAK_PUBLIC_URL"].split("//", 1)[1].split(":", 1)[0]
    assert alias in kc["networks"]["default"]["aliases"], "containers must reach the issuer by its name"


def test_keycloak_realm_placeholders_are_provided():
    """The production realm's ${CAREROUTE_*} placeholders are exactly the variables compose gives Keycloak."""
    text = (ROOT / "deploy" / "keycloak" / "production" / "careroute-realm.json").read_text()
    placeholders = set(re.findall(r"\$\{(CAREROUTE_[A-Z0-9_]+)\}", text))
    env = compose()["services"]["keycloak"]["environment"]
    assert placeholders == {k for k in env if k.startswith("CAREROUTE_")}


def test_database_urls_match_the_init_script_roles():
    services = compose()["services"]
    for svc in SERVICES:
        env = services[f"{svc}-api"]["environment"]
        url = env[f"{svc.upper()}_DATABASE_URL"]
        assert url.startswith(f"postgresql+psycopg://{svc}:") and url.endswith(f"@postgres:5432/{svc}")
        mig = services[f"{svc}-migrate"]["environment"][f"{svc.upper()}_MIGRATION_DATABASE_URL"]
        assert mig.startswith(f"postgresql+psycopg://{svc}_owner:")
        pg_env = services["postgres"]["environment"]
        assert f"{svc.upper()}_DB_PASSWORD" in pg_env and f"{svc.upper()}_DB_OWNER_PASSWORD" in pg_env
    assert "./deploy/postgres/initdb:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]


def test_prometheus_and_grafana_are_provisioned():
    services = compose()["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert any(v.startswith("./deploy/grafana/provisioning:") for v in services["grafana"]["volumes"])
    assert any(v.startswith("./deploy/grafana/dashboards:") for v in services["grafana"]["volumes"])
