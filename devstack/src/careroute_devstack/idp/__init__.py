"""Development identity provider: Keycloak's endpoints and token shapes, served from the realm export
Keycloak imports (deploy/keycloak/careroute-realm.json). NOT FOR PRODUCTION; binds to loopback only.

    careroute-dev-idp --realm-file deploy/keycloak/careroute-realm.json --port 8180
"""
from .app import DevIdentityProvider, create_app
from .realm import Realm, stable_id

__all__ = ["DevIdentityProvider", "Realm", "create_app", "stable_id"]
