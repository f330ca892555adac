"""The custom resources of every overlay have the shapes their operators document (crd_schemas.py),
refer to each other correctly, and the KeycloakRealmImports carry the same realm Care Route's
realm export defines."""
from __future__ import annotations

import copy
import json
from urllib.parse import urlsplit

import pytest
from crd_schemas import SCHEMAS
from deployment import OVERLAYS, ROOT, SERVICES, find, rendered
from jsonschema import Draft202012Validator

pytestmark = pytest.mark.unit

CORE = {"v1", "apps/v1", "batch/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"}
REALM = json.loads((ROOT / "deploy" / "keycloak" / "careroute-realm.json").read_text())


def errors(obj: dict) -> list[str]:
    schema = SCHEMAS[(obj["apiVersion"], obj["kind"])]
    Draft202012Validator.check_schema(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in Draft202012Validator(schema).iter_errors(obj)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_custom_resource_has_a_schema_and_fits_it(overlay):
    for obj in rendered(overlay):
        if obj["apiVersion"] in CORE:
            continue
        key = (obj["apiVersion"], obj["kind"])
        assert key in SCHEMAS, f"no shape test for {key}: add one to deploy/tests/crd_schemas.py"
        problems = errors(obj)
        assert not problems, f"{obj['kind']}/{obj['metadata']['name']}: {problems[:5]}"


@pytest.mark.parametrize("mutate, kind", [
    (lambda o: o["spec"]["kafka"]["listeners"][0].update(tls="no"), "Kafka"),
    (lambda o: o["spec"].update(zookeeper={"replicas": 3}), "Kafka"),
    (lambda o: o["spec"].update(role=["broker"]), "KafkaNodePool"),
    (lambda o: o["spec"].update(partitions=0), "KafkaTopic"),
    (lambda o: o["spec"]["bootstrap"]["initdb"].update(postInitApplicationSql=[]), "Cluster"),
    (lambda o: o["spec"]["managed"]["roles"][0].update(ensure="exists"), "Cluster"),
    (lambda o: o["spec"]["db"].update(passwordSecret={"name": "x"}), "Keycloak"),
    (lambda o: o["spec"].pop("keycloakCRName"), "KeycloakRealmImport"),
    (lambda o: o["spec"]["triggers"][0]["metadata"].pop("consumerGroup"), "ScaledObject"),
    (lambda o: o["spec"]["endpoints"][0].update(interval="30 seconds"), "ServiceMonitor"),
    (lambda o: o["spec"]["groups"][0]["rules"][0].update(alert=None), "PrometheusRule"),
])
def test_the_shape_tests_catch_mistakes(mutate, kind):
    obj = copy.deepcopy(find(rendered("prod"), kind)[0])
    mutate(obj)
    assert errors(obj)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_refer_to_each_other(overlay):
    objects = rendered(overlay)
    kafka = find(objects, "Kafka")
    assert len(kafka) == 1
    kafka_name = kafka[0]["metadata"]["name"]
    for obj in find(objects, "KafkaNodePool") + find(objects, "KafkaTopic"):
        assert obj["metadata"]["labels"]["strimzi.io/cluster"] == kafka_name
    roles = {r for p in find(objects, "KafkaNodePool") for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}, "KRaft: the pools must provide controllers and brokers"
    assert "zookeeper" not in kafka[0]["spec"]

    clusters = {c["metadata"]["name"] for c in find(objects, "Cluster")}
    assert clusters == {f"{s}-db" for s in SERVICES} | {"keycloak-db"}, "one CloudNativePG Cluster per service"
    for svc in SERVICES:
        cluster = find(objects, "Cluster", f"{svc}-db")[0]["spec"]
        assert cluster["bootstrap"]["initdb"]["database"] == svc
        assert cluster["bootstrap"]["initdb"]["owner"] == f"{svc}_owner"
        assert [r["name"] for r in cluster["managed"]["roles"]] == [svc]
    for backup in find(objects, "ScheduledBackup"):
        assert backup["spec"]["cluster"]["name"] in clusters
    stores = {s["metadata"]["name"] for s in find(objects, "ObjectStore")}
    for cluster in find(objects, "Cluster"):
        for plugin in cluster["spec"].get("plugins", []):
            assert plugin["parameters"]["barmanObjectName"] in stores

    keycloaks = {k["metadata"]["name"]: k for k in find(objects, "Keycloak")}
    imports = find(objects, "KeycloakRealmImport")
    assert len(imports) == 1 and imports[0]["spec"]["keycloakCRName"] in keycloaks
    keycloak = keycloaks[imports[0]["spec"]["keycloakCRName"]]
    assert keycloak["spec"]["db"]["host"] == "keycloak-db-rw"

    env = find(objects, "ConfigMap", "careroute-environment")[0]["data"]
    issuer = urlsplit(env["oidc-issuer"])
    assert f"{issuer.scheme}://{issuer.netloc}" == keycloak["spec"]["hostname"]["hostname"], \
        "the services' issuer must be the Keycloak hostname"
    assert issuer.path == f"/realms/{REALM['realm']}"
    hosts = {rule["host"] for i in find(objects, "Ingress") for rule in i["spec"]["rules"]}
    assert issuer.netloc in hosts and urlsplit(env["public-url"]).netloc in hosts


def _shape(realm: dict) -> dict:
    return {
        "realm": realm["realm"],
        "clients": sorted(c["clientId"] for c in realm.get("clients", [])),
        "realm_roles": sorted(r["name"] for r in realm.get("roles", {}).get("realm", [])),
        "client_roles": {k: sorted(r["name"] for r in v) for k, v in realm.get("roles", {}).get("client", {}).items()},
        "groups": json.dumps(realm.get("groups", []), sort_keys=True),
        "scopes": sorted(s["name"] for s in realm.get("clientScopes", [])),
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_realm_import_carries_the_care_route_realm(overlay):
    imported = find(rendered(overlay), "KeycloakRealmImport")[0]["spec"]["realm"]
    assert _shape(imported) == _shape(REALM)
    if overlay == "prod":
        production = json.loads((ROOT / "deploy" / "keycloak" / "production" / "careroute-realm.json").read_text())
        assert imported == production
        assert "users" not in imported, "no demo accounts in production"
        placeholders = find(rendered(overlay), "KeycloakRealmImport")[0]["spec"]["placeholders"]
        text = json.dumps(imported)
        for name in placeholders:
            assert f"${{{name}}}" in text
        import re
        assert set(re.findall(r"\$\{(CAREROUTE_[A-Z0-9_]+)\}", text)) == set(placeholders)
    else:
        assert imported.get("users") == REALM.get("users")


def test_production_realm_has_no_literal_credentials():
    production = json.loads((ROOT / "deploy" / "keycloak" / "production" / "careroute-realm.json").read_text())
    for client in production["clients"]:
        if client.get("publicClient"):
            assert not client.get("secret")
        else:
            assert client["secret"].startswith("${CAREROUTE_CLIENT_SECRET_")
        for uri in client.get("redirectUris", []) + client.get("webOrigins", []):
            assert uri.startswith("${CAREROUTE_PUBLIC_URL}") or uri in ("+", "/*")
    text = json.dumps(production)
    assert "127.0.0.1" not in text and "localhost" not in text and "dev-" not in text
