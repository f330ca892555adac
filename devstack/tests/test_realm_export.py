"""The realm export (deploy/keycloak/careroute-realm.json) against Keycloak's import format.

Keycloak 26 cannot run here, so the file is checked three ways: a JSON Schema of the part of
RealmRepresentation it uses (Keycloak's own field names, additionalProperties false everywhere, so a
misspelt field fails), referential integrity (what Keycloak's importer would reject or silently drop),
and the Care Route content other components rely on (group slugs, roles, clients, users).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from careroute_devstack.idp.realm import Realm, stable_id

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "careroute-realm.json"
SCHEMA_FILE = ROOT / "deploy" / "keycloak" / "realm-import.schema.json"

SERVICE_AUDIENCES = ["careroute-intake", "careroute-referral", "careroute-notify", "careroute-audit"]
CARE_ROUTE_ROLES = ["caseworker", "supervisor", "service-provider", "government-official", "auditor",
                    "directory-admin", "integration-client"]
ORGANISATIONS = [
    "/iom/tulcan", "/iom/ibarra", "/iom/lago-agrio", "/iom/huaquillas", "/iom/guayaquil", "/iom/cuenca",
    "/iom/centro-amor-quito", "/iom/oversight",
    "/government/msp/hospital-tulcan", "/government/msp/hospital-lago-agrio", "/government/msp/hospital-guayaquil",
    "/government/fiscalia/carchi", "/government/fiscalia/pichincha", "/government/juntas-cantonales/tulcan",
    "/government/juntas-cantonales/quito", "/government/policia-dinapen", "/government/ministerio-mujer-ddhh",
    "/civil-society/alas-de-colibri", "/civil-society/quimera", "/civil-society/hias",
    "/civil-society/casa-de-acogida-tulcan",
]
# username -> (role, organisation, locale or None when not prescribed)
DEV_USERS = {
    "caseworker.tulcan": ("caseworker", "/iom/tulcan", "es"),
    "supervisor.tulcan": ("supervisor", "/iom/tulcan", "es"),
    "caseworker.quito": ("caseworker", "/iom/centro-amor-quito", "es"),
    "supervisor.quito": ("supervisor", "/iom/centro-amor-quito", None),
    "caseworker.lagoagrio": ("caseworker", "/iom/lago-agrio", None),
    "caseworker.alas": ("caseworker", "/civil-society/alas-de-colibri", None),
    "provider.alas": ("service-provider", "/civil-society/alas-de-colibri", "es"),
    "provider.quimera": ("service-provider", "/civil-society/quimera", "en"),
    "provider.hias": ("service-provider", "/civil-society/hias", None),
    "provider.msp-tulcan": ("service-provider", "/government/msp/hospital-tulcan", None),
    "provider.fiscalia": ("service-provider", "/government/fiscalia/carchi", None),
    "official.ministerio": ("government-official", "/government/ministerio-mujer-ddhh", None),
    "official.msp": ("government-official", "/government/msp/hospital-tulcan", None),
    "auditor.oversight": ("auditor", "/iom/oversight", "en"),
    "admin.directory": ("directory-admin", "/iom/centro-amor-quito", None),
}
CLIENT_CREDENTIAL_CLIENTS = ["msp-hospital-tulcan-system", "fiscalia-carchi-system", "careroute-intake",
                             "careroute-referral", "careroute-notify", "careroute-audit"]
# roles Keycloak creates in its own realm-management client (a user may be granted them by name)
REALM_MANAGEMENT_ROLES = {
    "view-realm", "view-users", "view-clients", "view-events", "view-identity-providers", "view-authorization",
    "manage-realm", "manage-users", "manage-clients", "manage-events", "manage-identity-providers",
    "manage-authorization", "query-users", "query-groups", "query-clients", "query-realms", "create-client",
    "impersonation", "realm-admin",
}


@pytest.fixture(scope="module")
def realm() -> dict:
    return json.loads(REALM_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def walk_groups(groups: list[dict], parent: str = ""):
    for g in groups:
        path = f"{parent}/{g['name']}"
        yield path, g
        yield from walk_groups(g.get("subGroups") or [], path)


def by_key(items: list[dict], key: str) -> dict[str, dict]:
    return {item[key]: item for item in items}


# ---------------------------------------------------------------------------- the import format

def test_realm_file_matches_keycloak_import_schema(realm, validator):
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(realm)]
    assert errors == []


@pytest.mark.parametrize("where, misspelt", [
    ("realm", "accessTokenLifeSpan"),
    ("client", "directAccessGrantEnabled"),
    ("user", "firstname"),
    ("group", "subgroups"),
    ("mapper", "protocolmapper"),
    ("credential", "temporarily"),
])
def test_schema_rejects_misspelt_fields(realm, validator, where, misspelt):
    broken = copy.deepcopy(realm)
    target = {
        "realm": lambda r: r,
        "client": lambda r: r["clients"][0],
        "user": lambda r: r["users"][0],
        "group": lambda r: r["groups"][0]["subGroups"][0],
        "mapper": lambda r: r["clientScopes"][0]["protocolMappers"][0],
        "credential": lambda r: r["users"][0]["credentials"][0],
    }[where](broken)
    target[misspelt] = True
    assert not validator.is_valid(broken)


def test_schema_rejects_wrongly_typed_attributes(realm, validator):
    broken = copy.deepcopy(realm)
    broken["groups"][0]["subGroups"][0]["attributes"]["province"] = "Carchi"  # must be a list of strings
    assert not validator.is_valid(broken)
    broken = copy.deepcopy(realm)
    broken["clients"][0]["attributes"]["pkce.code.challenge.method"] = ["S256"]  # client attributes: strings
    assert not validator.is_valid(broken)


def test_realm_file_is_loaded_by_the_dev_idp():
    loaded = Realm.load(REALM_FILE)
    assert loaded.name == "careroute"


# ---------------------------------------------------------------------------- referential integrity

def test_group_paths_are_consistent_and_ids_unique(realm):
    seen_ids = set()
    for path, group in walk_groups(realm["groups"]):
        assert group.get("path", path) == path
        assert group["id"] not in seen_ids
        seen_ids.add(group["id"])
        assert group["id"] == stable_id("group", path)


def test_every_user_group_and_role_exists(realm):
    group_paths = {p for p, _ in walk_groups(realm["groups"])}
    realm_roles = {r["name"] for r in realm["roles"]["realm"]}
    clients = {c["clientId"] for c in realm["clients"]}
    for user in realm["users"]:
        for path in user.get("groups", []):
            assert path in group_paths, (user["username"], path)
        for role in user.get("realmRoles", []):
            assert role in realm_roles, (user["username"], role)
        for client_id, roles in (user.get("clientRoles") or {}).items():
            if client_id == "realm-management":
                assert set(roles) <= REALM_MANAGEMENT_ROLES, (user["username"], roles)
            else:
                assert client_id in clients
    for _, group in walk_groups(realm["groups"]):
        for role in group.get("realmRoles", []):
            assert role in realm_roles


def test_every_composite_and_scope_mapping_role_exists(realm):
    realm_roles = {r["name"] for r in realm["roles"]["realm"]}
    for role in realm["roles"]["realm"]:
        for composite in (role.get("composites") or {}).get("realm", []):
            assert composite in realm_roles, (role["name"], composite)
        assert bool(role.get("composites")) == role.get("composite", False)
    scope_names = {s["name"] for s in realm["clientScopes"]}
    for mapping in realm.get("scopeMappings", []):
        assert mapping["clientScope"] in scope_names
        assert set(mapping["roles"]) <= realm_roles


def test_default_role_is_keycloaks(realm):
    default = realm["defaultRole"]
    assert default["name"] == "default-roles-careroute"
    role = by_key(realm["roles"]["realm"], "name")["default-roles-careroute"]
    assert role["id"] == default["id"]
    assert set(role["composites"]["realm"]) == {"offline_access", "uma_authorization"}
    # users imported from a file get no default roles implicitly: each one lists it
    for user in realm["users"]:
        assert "default-roles-careroute" in user["realmRoles"], user["username"]


def test_service_accounts_name_their_clients(realm):
    clients = by_key(realm["clients"], "clientId")
    service_users = {u["serviceAccountClientId"]: u for u in realm["users"] if "serviceAccountClientId" in u}
    for client_id, user in service_users.items():
        assert client_id in clients
        assert clients[client_id]["serviceAccountsEnabled"] is True
        assert user["username"] == f"service-account-{client_id}"
        assert "credentials" not in user
    for client in realm["clients"]:
        if client.get("serviceAccountsEnabled"):
            assert client["clientId"] in service_users


def test_every_referenced_client_scope_exists(realm):
    scope_names = {s["name"] for s in realm["clientScopes"]}
    for name in realm["defaultDefaultClientScopes"] + realm["defaultOptionalClientScopes"]:
        assert name in scope_names
    for client in realm["clients"]:
        for name in client.get("defaultClientScopes", []) + client.get("optionalClientScopes", []):
            assert name in scope_names, (client["clientId"], name)
    # a realm file with clientScopes replaces Keycloak's built-in ones: the ones tokens need must be here
    assert {"profile", "email", "roles", "web-origins", "acr", "basic", "offline_access"} <= scope_names


def test_audience_mappers_name_existing_clients(realm):
    clients = {c["clientId"] for c in realm["clients"]}
    for scope in realm["clientScopes"]:
        for mapper in scope.get("protocolMappers", []):
            if mapper["protocolMapper"] == "oidc-audience-mapper":
                assert mapper["config"]["included.client.audience"] in clients


def test_ids_are_unique_per_kind_and_stable(realm):
    for items, kind, key in ((realm["users"], "user", "username"), (realm["clients"], "client", "clientId"),
                             (realm["clientScopes"], "client-scope", "name")):
        ids = [i["id"] for i in items]
        assert len(ids) == len(set(ids))
        for item in items:
            assert item["id"] == stable_id(kind, item[key])
    mapper_ids = [m["id"] for owner in realm["clients"] + realm["clientScopes"]
                  for m in owner.get("protocolMappers", [])]
    assert len(mapper_ids) == len(set(mapper_ids))
    assert len({r["id"] for r in realm["roles"]["realm"]}) == len(realm["roles"]["realm"])


# ---------------------------------------------------------------------------- Care Route content

def test_realm_settings(realm):
    assert realm["realm"] == "careroute"
    assert realm["accessTokenLifespan"] == 300
    assert realm["ssoSessionIdleTimeout"] == 1800
    assert realm["bruteForceProtected"] is True
    assert realm["sslRequired"] == "external"
    assert realm["internationalizationEnabled"] is True
    assert realm["supportedLocales"] == ["es", "en"]
    assert realm["defaultLocale"] == "es"


def test_roles_have_descriptions(realm):
    roles = by_key(realm["roles"]["realm"], "name")
    for name in CARE_ROUTE_ROLES:
        assert name in roles
        assert len(roles[name]["description"]) > 20


def test_three_kinds_of_organisation_as_groups(realm):
    groups = dict(walk_groups(realm["groups"]))
    assert [g["name"] for g in realm["groups"]] == ["iom", "government", "civil-society"]
    for path in ORGANISATIONS:
        assert path in groups, path
        group = groups[path]
        assert not group.get("subGroups"), f"{path} is an organisation/office, a leaf"
        for attribute in ("name_es", "name_en", "province", "canton", "kind"):
            values = group["attributes"][attribute]
            assert isinstance(values, list) and len(values) == 1 and values[0].strip(), (path, attribute)
        assert group["attributes"]["kind"] == [path.split("/")[1]]
    assert groups["/government/msp/hospital-tulcan"]["attributes"]["name_es"] == ["Hospital General Luis G. Dávila"]
    assert groups["/government/msp/hospital-tulcan"]["attributes"]["canton"] == ["Tulcán"]
    assert groups["/government/msp/hospital-lago-agrio"]["attributes"]["name_es"] == [
        "Hospital General Marco Vinicio Iza"]
    assert groups["/government/msp/hospital-lago-agrio"]["attributes"]["province"] == ["Sucumbíos"]
    assert groups["/government/msp/hospital-guayaquil"]["attributes"]["province"] == ["Guayas"]


def test_development_users(realm):
    users = by_key(realm["users"], "username")
    for username, (role, group, locale) in DEV_USERS.items():
        user = users[username]
        assert role in user["realmRoles"]
        assert user["groups"] == [group]
        assert user["enabled"] is True and user["emailVerified"] is True
        assert user["email"] == f"{username}@example.org"
        assert user["firstName"] and user["lastName"]
        assert user["attributes"]["locale"][0] in ("es", "en")
        if locale:
            assert user["attributes"]["locale"] == [locale]
        assert user["credentials"] == [{"type": "password", "value": "careroute-dev", "temporary": False}]
        assert user["id"] == stable_id("user", username)


def test_frontend_client(realm):
    client = by_key(realm["clients"], "clientId")["careroute-frontend"]
    assert client["publicClient"] is False
    assert client["secret"] == "dev-frontend-secret"
    assert client["standardFlowEnabled"] is True
    assert client["directAccessGrantsEnabled"] is False
    assert client["implicitFlowEnabled"] is False
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert set(client["redirectUris"]) == {"http://127.0.0.1:8080/*", "http://localhost:8080/*"}
    assert client["webOrigins"]
    assert client["attributes"]["post.logout.redirect.uris"]
    assert "careroute" in client["defaultClientScopes"]


def test_cli_client_is_public_and_dev_only(realm):
    client = by_key(realm["clients"], "clientId")["careroute-cli"]
    assert client["publicClient"] is True
    assert client["directAccessGrantsEnabled"] is True
    assert "secret" not in client
    assert "production" in client["description"].lower()
    assert "careroute" in client["defaultClientScopes"]


@pytest.mark.parametrize("client_id", CLIENT_CREDENTIAL_CLIENTS)
def test_client_credential_clients(realm, client_id):
    client = by_key(realm["clients"], "clientId")[client_id]
    assert client["publicClient"] is False
    assert client["serviceAccountsEnabled"] is True
    assert client["standardFlowEnabled"] is False
    assert client["directAccessGrantsEnabled"] is False
    assert client["implicitFlowEnabled"] is False
    assert client["secret"] == f"dev-{client_id}-secret"


def test_institutional_service_accounts(realm):
    users = by_key(realm["users"], "username")
    msp = users["service-account-msp-hospital-tulcan-system"]
    assert msp["groups"] == ["/government/msp/hospital-tulcan"]
    assert {"integration-client", "service-provider"} <= set(msp["realmRoles"])
    fiscalia = users["service-account-fiscalia-carchi-system"]
    assert fiscalia["groups"] == ["/government/fiscalia/carchi"]
    assert {"integration-client", "service-provider"} <= set(fiscalia["realmRoles"])


def test_notify_can_read_the_directory(realm):
    notify = by_key(realm["users"], "username")["service-account-careroute-notify"]
    assert {"view-users", "query-groups", "query-users"} <= set(notify["clientRoles"]["realm-management"])
    others = [u for u in realm["users"] if u["username"] != notify["username"]]
    assert all("realm-management" not in (u.get("clientRoles") or {}) for u in others)


def test_careroute_scope_mappers(realm):
    scope = by_key(realm["clientScopes"], "name")["careroute"]
    mappers = scope["protocolMappers"]
    audiences = [m["config"]["included.client.audience"] for m in mappers
                 if m["protocolMapper"] == "oidc-audience-mapper"]
    assert audiences == SERVICE_AUDIENCES
    for m in mappers:
        if m["protocolMapper"] == "oidc-audience-mapper":
            assert m["config"]["access.token.claim"] == "true"
    groups = [m for m in mappers if m["protocolMapper"] == "oidc-group-membership-mapper"]
    assert len(groups) == 1
    assert groups[0]["config"]["claim.name"] == "groups"
    assert groups[0]["config"]["full.path"] == "true"
    for flag in ("access.token.claim", "id.token.claim", "userinfo.token.claim"):
        assert groups[0]["config"][flag] == "true"
    locale = [m for m in mappers if m["protocolMapper"] == "oidc-usermodel-attribute-mapper"
              and m["config"]["user.attribute"] == "locale"]
    assert locale and locale[0]["config"]["claim.name"] == "locale"
    clients = by_key(realm["clients"], "clientId")
    for client_id in ("careroute-frontend", "careroute-cli", "msp-hospital-tulcan-system", "fiscalia-carchi-system"):
        assert "careroute" in clients[client_id]["defaultClientScopes"]
        assert "roles" in clients[client_id]["defaultClientScopes"]  # realm_access.roles
