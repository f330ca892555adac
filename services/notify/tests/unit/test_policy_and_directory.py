"""The policy module and the directory adapter (with a fake KeycloakAdmin)."""
from types import SimpleNamespace

import pytest

from careroute_platform.auth import Principal
from notify import policy
from notify.adapters.directory import DirectoryUnavailable, KeycloakDirectory, TtlCache

pytestmark = pytest.mark.unit


def principal(subject="u1", roles=("service-provider",), groups=("/civil-society/hias",)):
    return Principal(subject=subject, username="x", roles=frozenset(roles), groups=tuple(groups),
                     client_id="careroute-frontend")


def entry(**over):
    base = dict(subject=None, organisation="/civil-society/hias", audience_roles=["service-provider"])
    base.update(over)
    return SimpleNamespace(**base)


def test_own_entries_and_own_organisations_entries_for_my_roles_only():
    me = principal()
    assert policy.can_see(me, entry()).reason == "own-organisation"
    assert not policy.can_see(me, entry(audience_roles=["supervisor"]))
    assert not policy.can_see(me, entry(organisation="/civil-society/quimera"))
    assert policy.can_see(me, entry(subject="u1", organisation="/civil-society/hias")).reason == "own-inbox"
    assert not policy.can_see(me, entry(subject="u2", organisation="/civil-society/hias"))
    # addressed as a member of an office the person has since left
    assert not policy.can_see(me, entry(subject="u1", organisation="/iom/tulcan"))


def test_webhook_administration_is_for_the_organisations_own_admins():
    roles = ["integration-client", "supervisor", "government-official"]
    system = principal(roles=("integration-client", "service-provider"), groups=("/government/msp/hospital-tulcan",))
    assert policy.can_administer_webhooks(system, roles)
    assert policy.can_administer_webhooks(principal(roles=("caseworker",)), roles).reason == "role-missing"
    assert policy.can_administer_webhooks(principal(roles=("supervisor",), groups=()), roles).reason == \
        "no-organisation"
    endpoint = SimpleNamespace(organisation="/civil-society/hias")
    assert policy.can_manage_endpoint(system, endpoint, roles).reason == "other-organisation"


class FakeAdmin:
    def __init__(self):
        self.calls = []
        self.fail = False

    def _log(self, name):
        self.calls.append(name)
        if self.fail:
            raise ConnectionError("down")

    def get_group_by_path(self, path):
        self._log("group")
        return {"id": "g1", "path": path}

    def get_group_members(self, group_id, query=None):
        self._log("members")
        return [{"id": "a", "username": "provider.a", "email": "a@example.org", "attributes": {"locale": ["en"]}},
                {"id": "b", "username": "caseworker.b", "email": "b@example.org", "attributes": {}},
                {"id": "s", "username": "service-account-x", "attributes": {}}]

    def get_realm_role_members(self, role, query=None):
        self._log("role")
        return [{"id": "a"}, {"id": "s"}] if role == "service-provider" else [{"id": "b"}]

    def get_user(self, user_id):
        self._log("user")
        return {"id": user_id, "username": "x", "email": f"{user_id}@example.org", "attributes": {"locale": ["es"]}}

    def get_user_groups(self, user_id):
        self._log("groups")
        return [{"path": "/civil-society/hias"}]


def test_directory_resolves_members_with_roles_and_caches_them():
    admin = FakeAdmin()
    d = KeycloakDirectory(server_url="x", realm="r", client_id="c", client_secret="s", admin_factory=lambda: admin)
    people = d.members("/civil-society/hias", ["service-provider"])
    assert [(p.subject, p.locale, p.mailable) for p in people] == [("a", "en", True), ("s", "es", False)]
    calls = len(admin.calls)
    d.members("/civil-society/hias", ["service-provider"])
    d.person("a")                       # primed by the member listing
    assert len(admin.calls) == calls
    admin.fail = True
    d.cache.clear()
    with pytest.raises(DirectoryUnavailable):
        d.person("zz")


def test_ttl_cache_expires():
    now = [0.0]
    cache = TtlCache(10, clock=lambda: now[0])
    cache.put("k", 1)
    assert cache.get("k") == (True, 1)
    now[0] = 11
    assert cache.get("k") == (False, None)
