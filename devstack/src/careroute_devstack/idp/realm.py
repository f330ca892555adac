"""The realm, read from the very file Keycloak imports (deploy/keycloak/careroute-realm.json).

Only the parts the development identity provider needs are modelled: users (with their plaintext
development credentials), the group tree, realm and client roles with composites, clients and client
scopes with their protocol mappers. Tokens are shaped by interpreting the protocol mappers found in the
file, so what the dev IdP puts in a token is what Keycloak would put there with the same file.
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

# Stable identifiers: the realm file carries ids generated with this namespace, and any object that has
# no id in the file gets the same one, so `sub` and group ids survive restarts and re-imports.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:careroute:keycloak")


def stable_id(kind: str, name: str) -> str:
    """Deterministic UUID for a realm object, e.g. stable_id("user", "caseworker.tulcan")."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{name}"))


# Keycloak creates the realm-management client and its roles itself; these composites are built in.
REALM_MANAGEMENT_COMPOSITES: dict[str, tuple[str, ...]] = {
    "view-users": ("query-users", "query-groups"),
    "view-clients": ("query-clients",),
    "manage-users": (),
    "realm-admin": (
        "view-realm", "view-users", "view-clients", "view-events", "view-identity-providers",
        "view-authorization", "manage-realm", "manage-users", "manage-clients", "manage-events",
        "manage-identity-providers", "manage-authorization", "query-users", "query-groups",
        "query-clients", "query-realms", "create-client", "impersonation",
    ),
}

TokenTarget = Literal["access", "id", "userinfo", "introspection"]
_TARGET_FLAG = {
    "access": "access.token.claim",
    "id": "id.token.claim",
    "userinfo": "userinfo.token.claim",
    "introspection": "introspection.token.claim",
}


class RealmFileError(ValueError):
    """The realm file is inconsistent (a user in a group that does not exist, ...)."""


@dataclass
class Group:
    id: str
    name: str
    path: str
    parent: Group | None
    attributes: dict[str, list[str]]
    realm_roles: list[str]
    client_roles: dict[str, list[str]]
    children: list[Group] = field(default_factory=list)

    def lineage(self) -> list[Group]:
        """This group and its ancestors (Keycloak users inherit the roles of both)."""
        out: list[Group] = []
        g: Group | None = self
        while g is not None:
            out.append(g)
            g = g.parent
        return out


@dataclass
class User:
    id: str
    username: str
    enabled: bool
    email: str | None
    email_verified: bool
    first_name: str | None
    last_name: str | None
    attributes: dict[str, list[str]]
    password: str | None
    password_temporary: bool
    required_actions: list[str]
    realm_roles: list[str]
    client_roles: dict[str, list[str]]
    group_paths: list[str]
    service_account_client_id: str | None
    created_timestamp: int

    @property
    def full_name(self) -> str | None:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or None

    @property
    def locale(self) -> str | None:
        values = self.attributes.get("locale") or []
        return values[0] if values else None


@dataclass
class ProtocolMapper:
    name: str
    mapper_type: str
    config: dict[str, str]

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.config.get(key)
        if value is None:
            return default
        return str(value).lower() == "true"

    def applies_to(self, target: TokenTarget) -> bool:
        return self.flag(_TARGET_FLAG[target])


@dataclass
class ClientScope:
    id: str
    name: str
    include_in_token_scope: bool
    mappers: list[ProtocolMapper]


@dataclass
class Client:
    id: str
    client_id: str
    name: str | None
    enabled: bool
    public: bool
    bearer_only: bool
    secret: str | None
    standard_flow: bool
    direct_access_grants: bool
    service_accounts: bool
    full_scope_allowed: bool
    redirect_uris: list[str]
    web_origins: list[str]
    attributes: dict[str, str]
    default_scopes: list[str]
    optional_scopes: list[str]
    mappers: list[ProtocolMapper]

    @property
    def pkce_method(self) -> str | None:
        return self.attributes.get("pkce.code.challenge.method") or None

    def post_logout_redirect_uris(self) -> list[str]:
        raw = self.attributes.get("post.logout.redirect.uris", "+")
        out: list[str] = []
        for item in raw.split("##"):
            item = item.strip()
            if item == "+":
                out.extend(self.redirect_uris)
            elif item:
                out.append(item)
        return out

    def allowed_origins(self) -> list[str]:
        out: list[str] = []
        for origin in self.web_origins:
            if origin == "+":
                for uri in self.redirect_uris:
                    parts = urlsplit(uri.rstrip("*"))
                    if parts.scheme in ("http", "https") and parts.netloc:
                        out.append(f"{parts.scheme}://{parts.netloc}")
            else:
                out.append(origin)
        return list(dict.fromkeys(out))


def uri_allowed(patterns: Iterable[str], uri: str | None) -> bool:
    """Keycloak's redirect-URI check: exact match, or prefix match for a pattern ending in '*'.

    Refuses fragments, credentials in the authority and dot segments, which Keycloak also rejects.
    """
    if not uri or "#" in uri:
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if "@" in parts.netloc or "\\" in uri:
        return False
    segments = unquote(parts.path).split("/")
    if any(seg in (".", "..") for seg in segments):
        return False
    for pattern in patterns:
        if pattern == uri:
            return True
        if pattern.endswith("*") and uri.startswith(pattern[:-1]):
            return True
    return False


def _claim_path(name: str) -> list[str]:
    """Keycloak splits claim names on unescaped dots: 'realm_access.roles' is nested."""
    parts = re.split(r"(?<!\\)\.", name)
    return [p.replace("\\.", ".") for p in parts]


def _set_claim(claims: dict[str, Any], name: str, value: Any) -> None:
    path = _claim_path(name)
    target = claims
    for key in path[:-1]:
        nxt = target.get(key)
        if not isinstance(nxt, dict):
            nxt = {}
            target[key] = nxt
        target = nxt
    last = path[-1]
    existing = target.get(last)
    if isinstance(existing, list) and isinstance(value, list):
        target[last] = list(dict.fromkeys(existing + value))
    else:
        target[last] = value


def _convert(value: Any, json_type: str | None) -> Any:
    if value is None:
        return None
    kind = (json_type or "String").lower()
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind in ("long", "int"):
        return int(value)
    if kind == "json":
        return json.loads(value) if isinstance(value, str) else value
    return value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


class Realm:
    """An in-memory, read-only view of one Keycloak realm export."""

    def __init__(self, rep: dict[str, Any]):
        self.rep = rep
        self.name: str = rep["realm"]
        self.display_name: str = rep.get("displayName") or self.name
        self.enabled: bool = rep.get("enabled", True)
        self.access_token_lifespan: int = int(rep.get("accessTokenLifespan", 300))
        self.sso_session_idle_timeout: int = int(rep.get("ssoSessionIdleTimeout", 1800))
        self.sso_session_max_lifespan: int = int(rep.get("ssoSessionMaxLifespan", 36000))
        self.access_code_lifespan: int = int(rep.get("accessCodeLifespan", 60))
        self.access_code_lifespan_login: int = int(rep.get("accessCodeLifespanLogin", 1800))
        self.login_with_email_allowed: bool = rep.get("loginWithEmailAllowed", True)
        self.brute_force_protected: bool = rep.get("bruteForceProtected", False)
        self.failure_factor: int = int(rep.get("failureFactor", 30))
        self.wait_increment_seconds: int = int(rep.get("waitIncrementSeconds", 60))
        self.max_failure_wait_seconds: int = int(rep.get("maxFailureWaitSeconds", 900))
        self.supported_locales: list[str] = list(rep.get("supportedLocales") or ["en"])
        self.default_locale: str = rep.get("defaultLocale") or self.supported_locales[0]
        self.default_role: str = (rep.get("defaultRole") or {}).get("name") or f"default-roles-{self.name}"

        roles = rep.get("roles") or {}
        self.realm_roles: dict[str, dict[str, Any]] = {r["name"]: r for r in roles.get("realm") or []}
        self.client_role_defs: dict[str, dict[str, dict[str, Any]]] = {
            cid: {r["name"]: r for r in defs} for cid, defs in (roles.get("client") or {}).items()
        }

        self.client_scopes: dict[str, ClientScope] = {}
        for s in rep.get("clientScopes") or []:
            attrs = s.get("attributes") or {}
            self.client_scopes[s["name"]] = ClientScope(
                id=s.get("id") or stable_id("client-scope", s["name"]),
                name=s["name"],
                include_in_token_scope=str(attrs.get("include.in.token.scope", "true")).lower() == "true",
                mappers=[self._mapper(m) for m in s.get("protocolMappers") or []],
            )
        default_default = list(rep.get("defaultDefaultClientScopes") or [])
        default_optional = list(rep.get("defaultOptionalClientScopes") or [])

        self.clients: dict[str, Client] = {}
        for c in rep.get("clients") or []:
            public = bool(c.get("publicClient", False))
            self.clients[c["clientId"]] = Client(
                id=c.get("id") or stable_id("client", c["clientId"]),
                client_id=c["clientId"],
                name=c.get("name"),
                enabled=c.get("enabled", True),
                public=public,
                bearer_only=bool(c.get("bearerOnly", False)),
                secret=None if public else c.get("secret"),
                standard_flow=c.get("standardFlowEnabled", True),
                direct_access_grants=bool(c.get("directAccessGrantsEnabled", False)),
                service_accounts=bool(c.get("serviceAccountsEnabled", False)),
                full_scope_allowed=c.get("fullScopeAllowed", True),
                redirect_uris=list(c.get("redirectUris") or []),
                web_origins=list(c.get("webOrigins") or []),
                attributes={k: str(v) for k, v in (c.get("attributes") or {}).items()},
                default_scopes=list(c["defaultClientScopes"]) if "defaultClientScopes" in c else default_default,
                optional_scopes=list(c["optionalClientScopes"]) if "optionalClientScopes" in c else default_optional,
                mappers=[self._mapper(m) for m in c.get("protocolMappers") or []],
            )

        self.groups_by_path: dict[str, Group] = {}
        self.groups_by_id: dict[str, Group] = {}
        self.top_groups: list[Group] = [self._group(g, None) for g in rep.get("groups") or []]

        self.users: dict[str, User] = {}
        self.users_by_id: dict[str, User] = {}
        for u in rep.get("users") or []:
            user = self._user(u)
            if user.username in self.users:
                raise RealmFileError(f"duplicate username {user.username}")
            self.users[user.username] = user
            self.users_by_id[user.id] = user
        self._check_references()

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(cls, path: Path | str) -> Realm:
        with open(path, encoding="utf-8") as fh:
            return cls(json.load(fh))

    @staticmethod
    def _mapper(m: dict[str, Any]) -> ProtocolMapper:
        return ProtocolMapper(
            name=m.get("name", ""),
            mapper_type=m.get("protocolMapper", ""),
            config={k: str(v) for k, v in (m.get("config") or {}).items()},
        )

    def _group(self, g: dict[str, Any], parent: Group | None) -> Group:
        path = f"{parent.path}/{g['name']}" if parent else f"/{g['name']}"
        if g.get("path") and g["path"] != path:
            raise RealmFileError(f"group {g['name']} declares path {g['path']} but sits at {path}")
        group = Group(
            id=g.get("id") or stable_id("group", path),
            name=g["name"],
            path=path,
            parent=parent,
            attributes={k: list(v) for k, v in (g.get("attributes") or {}).items()},
            realm_roles=list(g.get("realmRoles") or []),
            client_roles={k: list(v) for k, v in (g.get("clientRoles") or {}).items()},
        )
        self.groups_by_path[path] = group
        self.groups_by_id[group.id] = group
        group.children = [self._group(child, group) for child in g.get("subGroups") or []]
        return group

    def _user(self, u: dict[str, Any]) -> User:
        username = u["username"].lower()
        password = None
        temporary = False
        for cred in u.get("credentials") or []:
            if cred.get("type") == "password" and cred.get("value") is not None:
                password = cred["value"]
                temporary = bool(cred.get("temporary", False))
        return User(
            id=u.get("id") or stable_id("user", username),
            username=username,
            enabled=u.get("enabled", True),
            email=(u.get("email") or None) and u["email"].lower(),
            email_verified=bool(u.get("emailVerified", False)),
            first_name=u.get("firstName"),
            last_name=u.get("lastName"),
            attributes={k: list(v) if isinstance(v, list) else [v] for k, v in (u.get("attributes") or {}).items()},
            password=password,
            password_temporary=temporary,
            required_actions=list(u.get("requiredActions") or []),
            realm_roles=list(u.get("realmRoles") or []),
            client_roles={k: list(v) for k, v in (u.get("clientRoles") or {}).items()},
            group_paths=list(u.get("groups") or []),
            service_account_client_id=u.get("serviceAccountClientId"),
            created_timestamp=int(u.get("createdTimestamp") or 0),
        )

    def _check_references(self) -> None:
        for user in self.users.values():
            for path in user.group_paths:
                if path not in self.groups_by_path:
                    raise RealmFileError(f"user {user.username} is in unknown group {path}")
            for role in user.realm_roles:
                if role not in self.realm_roles:
                    raise RealmFileError(f"user {user.username} has unknown realm role {role}")
            if user.service_account_client_id and user.service_account_client_id not in self.clients:
                raise RealmFileError(f"user {user.username} is the service account of an unknown client")
        for client in self.clients.values():
            for scope in client.default_scopes + client.optional_scopes:
                if scope not in self.client_scopes:
                    raise RealmFileError(f"client {client.client_id} uses unknown client scope {scope}")

    # ---------------------------------------------------------------- lookups

    def find_user_for_login(self, login: str) -> User | None:
        login = (login or "").strip().lower()
        if not login:
            return None
        user = self.users.get(login)
        if user is None and self.login_with_email_allowed and "@" in login:
            user = next((u for u in self.users.values() if u.email == login), None)
        if user is not None and user.service_account_client_id:
            return None  # service-account users cannot log in interactively
        return user

    def service_account_user(self, client_id: str) -> User | None:
        for user in self.users.values():
            if user.service_account_client_id == client_id:
                return user
        return None

    def client_by_internal_id(self, internal_id: str) -> Client | None:
        return next((c for c in self.clients.values() if c.id == internal_id), None)

    # ---------------------------------------------------------------- roles

    def _client_role_composites(self, client_id: str, role: str) -> tuple[list[str], dict[str, list[str]]]:
        rep = self.client_role_defs.get(client_id, {}).get(role)
        if rep is not None:
            comp = rep.get("composites") or {}
            return list(comp.get("realm") or []), {k: list(v) for k, v in (comp.get("client") or {}).items()}
        if client_id == "realm-management":
            return [], {"realm-management": list(REALM_MANAGEMENT_COMPOSITES.get(role, ()))}
        return [], {}

    def expand_roles(
        self, realm_roles: Iterable[str], client_roles: dict[str, Iterable[str]]
    ) -> tuple[list[str], dict[str, list[str]]]:
        """Composite expansion, as Keycloak does for the roles it puts in tokens."""
        out_realm: list[str] = []
        out_client: dict[str, list[str]] = {}
        realm_stack = list(realm_roles)
        client_stack = [(cid, r) for cid, roles in client_roles.items() for r in roles]
        while realm_stack or client_stack:
            while realm_stack:
                role = realm_stack.pop(0)
                if role in out_realm:
                    continue
                out_realm.append(role)
                comp = (self.realm_roles.get(role) or {}).get("composites") or {}
                realm_stack.extend(comp.get("realm") or [])
                client_stack.extend((cid, r) for cid, rs in (comp.get("client") or {}).items() for r in rs)
            while client_stack:
                cid, role = client_stack.pop(0)
                have = out_client.setdefault(cid, [])
                if role in have:
                    continue
                have.append(role)
                sub_realm, sub_client = self._client_role_composites(cid, role)
                realm_stack.extend(sub_realm)
                client_stack.extend((c, r) for c, rs in sub_client.items() for r in rs)
        return out_realm, {k: v for k, v in out_client.items() if v}

    def effective_roles(self, user: User) -> tuple[list[str], dict[str, list[str]]]:
        realm_roles = list(user.realm_roles)
        client_roles: dict[str, list[str]] = {k: list(v) for k, v in user.client_roles.items()}
        for path in user.group_paths:
            for group in self.groups_by_path[path].lineage():
                realm_roles.extend(group.realm_roles)
                for cid, roles in group.client_roles.items():
                    client_roles.setdefault(cid, []).extend(roles)
        return self.expand_roles(realm_roles, client_roles)

    def direct_role_members(self, role: str) -> list[User]:
        """Keycloak's /roles/{name}/users lists direct role mappings only."""
        return [u for u in self.users.values() if role in u.realm_roles]

    # ---------------------------------------------------------------- scopes & claims

    def granted_scopes(self, client: Client, requested: str | None) -> tuple[list[ClientScope], bool]:
        """The client scopes a request gets (all default ones, requested optional ones) and 'openid'."""
        names = set((requested or "").split())
        scopes = [self.client_scopes[n] for n in client.default_scopes if n in self.client_scopes]
        scopes += [self.client_scopes[n] for n in client.optional_scopes if n in names and n in self.client_scopes]
        return scopes, "openid" in names

    @staticmethod
    def scope_claim(scopes: list[ClientScope], openid: bool) -> str:
        names = (["openid"] if openid else []) + [s.name for s in scopes if s.include_in_token_scope]
        return " ".join(dict.fromkeys(names))

    def _user_value(self, user: User, attribute: str) -> Any:
        builtin = {
            "username": user.username,
            "email": user.email,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "emailVerified": user.email_verified,
            "enabled": user.enabled,
            "createdTimestamp": user.created_timestamp or None,
            "id": user.id,
        }
        if attribute in builtin:
            return builtin[attribute]
        values = user.attributes.get(attribute)
        return values if values else None

    def build_claims(
        self,
        *,
        user: User,
        client: Client,
        scopes: list[ClientScope],
        target: TokenTarget,
        session_notes: dict[str, Any],
    ) -> tuple[dict[str, Any], list[str]]:
        """Apply the protocol mappers of the client and its granted scopes.

        Returns the mapped claims and the audiences the mappers add (access/ID tokens).
        """
        claims: dict[str, Any] = {}
        audiences: list[str] = []
        realm_roles, client_roles = self.effective_roles(user)
        mappers = [m for s in scopes for m in s.mappers] + list(client.mappers)
        deferred: list[ProtocolMapper] = []
        for m in mappers:
            kind = m.mapper_type
            if kind == "oidc-audience-resolve-mapper":
                deferred.append(m)
                continue
            if not m.applies_to(target):
                continue
            claim = m.config.get("claim.name")
            json_type = m.config.get("jsonType.label")
            if kind in ("oidc-usermodel-attribute-mapper", "oidc-usermodel-property-mapper"):
                value = self._user_value(user, m.config.get("user.attribute", ""))
                if value is None or not claim:
                    continue
                if isinstance(value, list):
                    value = [_convert(v, json_type) for v in value]
                    if not m.flag("multivalued"):
                        value = value[0]
                else:
                    value = _convert(value, json_type)
                    if m.flag("multivalued"):
                        value = [value]
                _set_claim(claims, claim, value)
            elif kind == "oidc-full-name-mapper":
                if user.full_name:
                    claims["name"] = user.full_name
            elif kind == "oidc-usermodel-realm-role-mapper":
                prefix = m.config.get("usermodel.realmRoleMapping.rolePrefix", "")
                if realm_roles:
                    _set_claim(claims, claim or "realm_access.roles", [prefix + r for r in realm_roles])
            elif kind == "oidc-usermodel-client-role-mapper":
                only = m.config.get("usermodel.clientRoleMapping.clientId")
                prefix = m.config.get("usermodel.clientRoleMapping.rolePrefix", "")
                template = claim or "resource_access.${client_id}.roles"
                for cid, roles in client_roles.items():
                    if only and cid != only:
                        continue
                    _set_claim(claims, template.replace("${client_id}", cid), [prefix + r for r in roles])
            elif kind == "oidc-group-membership-mapper":
                full = m.flag("full.path", True)
                values = [p if full else self.groups_by_path[p].name for p in user.group_paths]
                if values:
                    _set_claim(claims, claim or "groups", values if m.flag("multivalued", True) else values[0])
            elif kind == "oidc-audience-mapper":
                if target in ("access", "id"):
                    aud = m.config.get("included.client.audience") or m.config.get("included.custom.audience")
                    if aud:
                        audiences.append(aud)
            elif kind == "oidc-allowed-origins-mapper":
                origins = client.allowed_origins()
                if origins:
                    claims["allowed-origins"] = origins
            elif kind == "oidc-acr-mapper":
                claims["acr"] = str(session_notes.get("acr", "1"))
            elif kind == "oidc-sub-mapper":
                claims["sub"] = user.id
            elif kind == "oidc-usersessionmodel-note-mapper":
                note = m.config.get("user.session.note")
                if note and session_notes.get(note) is not None and claim:
                    _set_claim(claims, claim, _convert(session_notes[note], json_type))
            elif kind == "oidc-hardcoded-claim-mapper" and claim and m.config.get("claim.value") is not None:
                _set_claim(claims, claim, _convert(m.config["claim.value"], json_type))
            # other mapper types are not interpreted by the development IdP
        for m in deferred:
            if target == "access" and m.flag("access.token.claim", True):
                audiences.extend(cid for cid in client_roles if cid != client.client_id)
        return claims, list(dict.fromkeys(audiences))
