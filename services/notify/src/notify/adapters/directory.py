"""Recipients from the identity provider's directory: who is in an organisation with a role, and a
person's e-mail address and language. Read through python-keycloak's KeycloakAdmin with the
`careroute-notify` client's own credentials (realm-management view-users / query-groups), cached with a
TTL so that a burst of notifications does not become a burst of admin-API calls.

E-mail addresses are held in this process's memory only; they are never written to the database."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..metrics import DIRECTORY_LOOKUPS

log = logging.getLogger(__name__)
LOCALES = ("es", "en")


class DirectoryUnavailable(Exception):
    """The directory could not be asked; the caller retries later (nothing is dropped)."""


@dataclass(frozen=True)
class Person:
    subject: str
    email: str | None
    locale: str
    enabled: bool = True
    service_account: bool = False

    @property
    def mailable(self) -> bool:
        return self.enabled and bool(self.email) and not self.service_account


class Directory(Protocol):
    def members(self, organisation: str, roles: Iterable[str]) -> list[Person]: ...
    def person(self, subject: str) -> Person | None: ...
    def groups_of(self, subject: str) -> list[str] | None: ...


def person_from(rep: dict[str, Any], default_locale: str = "es") -> Person:
    attributes = rep.get("attributes") or {}
    values = attributes.get("locale") or []
    locale = (values[0] if values else default_locale) or default_locale
    locale = locale.split("-")[0].split("_")[0].lower()
    return Person(subject=rep["id"], email=rep.get("email") or None,
                  locale=locale if locale in LOCALES else default_locale,
                  enabled=rep.get("enabled", True) is not False,
                  service_account=str(rep.get("username", "")).startswith("service-account-"))


class TtlCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> tuple[bool, Any]:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or hit[0] < self.clock():
                self._data.pop(key, None)
                return False, None
            return True, hit[1]

    def put(self, key: Any, value: Any, ttl: float | None = None) -> None:
        with self._lock:
            if len(self._data) > 10_000:  # a bound, not an LRU: the directory is small
                self._data.clear()
            self._data[key] = (self.clock() + (self.ttl if ttl is None else ttl), value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class KeycloakDirectory:
    """The directory behind the Keycloak admin API (the real Keycloak or the development IdP)."""

    def __init__(self, *, server_url: str, realm: str, client_id: str, client_secret: str,
                 cache_seconds: float = 300.0, timeout: int = 10, verify: bool = True,
                 admin_factory: Callable[[], Any] | None = None) -> None:
        self._factory = admin_factory or (lambda: _keycloak_admin(server_url, realm, client_id, client_secret,
                                                                   timeout, verify))
        self._admin = None
        self._lock = threading.Lock()
        self.cache = TtlCache(cache_seconds)

    @property
    def admin(self):
        with self._lock:
            if self._admin is None:
                self._admin = self._factory()
            return self._admin

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from keycloak.exceptions import KeycloakError

        try:
            result = fn()
        except KeycloakError as exc:
            code = getattr(exc, "response_code", None)
            if code == 404:
                DIRECTORY_LOOKUPS.labels(what, "not_found").inc()
                return None
            DIRECTORY_LOOKUPS.labels(what, "error").inc()
            if code in (401, 403):  # a stale admin token: start a new connection next time
                with self._lock:
                    self._admin = None
            raise DirectoryUnavailable(f"{what}: {type(exc).__name__} {code}") from None
        except Exception as exc:  # connection refused, timeouts, TLS: the directory is away
            DIRECTORY_LOOKUPS.labels(what, "error").inc()
            with self._lock:
                self._admin = None
            raise DirectoryUnavailable(f"{what}: {type(exc).__name__}") from None
        DIRECTORY_LOOKUPS.labels(what, "fetched").inc()
        return result

    def _cached(self, key: tuple, what: str, fn: Callable[[], Any]) -> Any:
        hit, value = self.cache.get(key)
        if hit:
            DIRECTORY_LOOKUPS.labels(what, "cached").inc()
            return value
        value = self._call(what, fn)
        # a miss (unknown group or person) is cached briefly only: it may be created any moment
        self.cache.put(key, value, None if value is not None else min(30.0, self.cache.ttl))
        return value

    def _role_members(self, role: str) -> set[str]:
        reps = self._cached(("role", role), "role_members",
                            lambda: self.admin.get_realm_role_members(role, {"briefRepresentation": True}))
        return {r["id"] for r in reps or []}

    def members(self, organisation: str, roles: Iterable[str]) -> list[Person]:
        group = self._cached(("group", organisation), "group", lambda: self.admin.get_group_by_path(organisation))
        if not group:
            return []
        reps = self._cached(("members", group["id"]), "group_members",
                            lambda: self.admin.get_group_members(group["id"], {"briefRepresentation": False}))
        wanted: set[str] = set()
        for role in roles:
            wanted |= self._role_members(role)
        people = []
        for rep in reps or []:
            if rep.get("id") in wanted:
                person = person_from(rep)
                self.cache.put(("person", person.subject), person)
                people.append(person)
        return people

    def person(self, subject: str) -> Person | None:
        def fetch():
            rep = self.admin.get_user(subject)
            return person_from(rep) if rep else None
        return self._cached(("person", subject), "user", fetch)

    def groups_of(self, subject: str) -> list[str] | None:
        groups = self._cached(("groups", subject), "user_groups", lambda: self.admin.get_user_groups(subject))
        return None if groups is None else [g.get("path") for g in groups if g.get("path")]


def _keycloak_admin(server_url: str, realm: str, client_id: str, client_secret: str, timeout: int, verify: bool):
    from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

    connection = KeycloakOpenIDConnection(server_url=server_url, realm_name=realm, client_id=client_id,
                                          client_secret_key=client_secret, grant_type="client_credentials",
                                          timeout=timeout, verify=verify)
    return KeycloakAdmin(connection=connection)


class StaticDirectory:
    """A directory held in memory: unit tests, and a deployment without an admin API (not recommended)."""

    def __init__(self, people: Iterable[tuple[Person, list[str], list[str]]] = ()) -> None:
        self.entries = {p.subject: (p, list(groups), list(roles)) for p, groups, roles in people}
        self.available = True
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if not self.available:
            raise DirectoryUnavailable("static directory switched off")

    def members(self, organisation: str, roles: Iterable[str]) -> list[Person]:
        self._check()
        roles = set(roles)
        return [p for p, groups, person_roles in self.entries.values()
                if organisation in groups and roles.intersection(person_roles)]

    def person(self, subject: str) -> Person | None:
        self._check()
        entry = self.entries.get(subject)
        return entry[0] if entry else None

    def groups_of(self, subject: str) -> list[str] | None:
        self._check()
        entry = self.entries.get(subject)
        return entry[1] if entry else None
