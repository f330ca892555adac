"""A service's runtime: its settings, database, outbox, token verifier and access recorder, and
the FastAPI dependencies built on them. One object per process; every service builds one."""
from __future__ import annotations

import dataclasses
import socket
from functools import cached_property
from fastapi import Depends, Request
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import Session

from .access import Decision, access_event
from .auth import AuthenticationError, JwksCache, Principal, TokenVerifier
from .db import UnitOfWork, make_engine, make_session_factory
from .idempotency import idempotency_table
from .logging import trace_id_var
from .outbox import Outbox, Relay, outbox_table, processed_events_table
from .problems import Problem
from .settings import ServiceSettings


def platform_tables(metadata: MetaData) -> dict[str, Table]:
    """The tables every service's schema carries besides its own."""
    return {"outbox": outbox_table(metadata), "processed_events": processed_events_table(metadata),
            "idempotency_keys": idempotency_table(metadata)}


class TracedUnitOfWork(UnitOfWork):
    def __init__(self, session_factory, outbox, traceparent: str | None = None) -> None:
        super().__init__(session_factory, outbox)
        self.traceparent = traceparent

    def publish(self, event) -> None:
        if event.traceparent is None and self.traceparent:
            event = dataclasses.replace(event, traceparent=self.traceparent)
        super().publish(event)


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, metadata: MetaData) -> None:
        self.settings = settings
        self.metadata = metadata
        tables = {name: metadata.tables[name] for name in ("outbox", "processed_events", "idempotency_keys")}
        self.outbox_table = tables["outbox"]
        self.processed_table = tables["processed_events"]
        self.idempotency_table = tables["idempotency_keys"]
        self.outbox = Outbox(self.outbox_table)

    @cached_property
    def engine(self):
        return make_engine(self.settings.database_url)

    @cached_property
    def session_factory(self):
        return make_session_factory(self.engine)

    @cached_property
    def jwks(self) -> JwksCache:
        return JwksCache(self.settings.jwks_url, min_refetch_seconds=self.settings.jwks_min_refetch_seconds,
                         max_age_seconds=self.settings.jwks_cache_seconds)

    @cached_property
    def verifier(self) -> TokenVerifier:
        return TokenVerifier(issuer=self.settings.oidc_issuer, audience=self.settings.oidc_audience,
                             allowed_azp=self.settings.oidc_allowed_azp, jwks=self.jwks,
                             algorithms=self.settings.oidc_algorithms, leeway=self.settings.oidc_leeway_seconds)

    def uow(self, traceparent: str | None = None) -> TracedUnitOfWork:
        return TracedUnitOfWork(self.session_factory, self.outbox, traceparent)

    def relay(self) -> Relay:
        return Relay(self.engine, self.outbox_table, self.settings.kafka_bootstrap_servers,
                     poll_seconds=self.settings.relay_poll_seconds, batch_size=self.settings.relay_batch_size)

    # -- access events --------------------------------------------------------------------------
    def access(self, principal: Principal | None, action: str, resource_type: str, resource_id: str | None,
               decision: Decision, *, purpose: str | None = None, key: str | None = None):
        return access_event(service=self.settings.service_name, principal=principal, action=action,
                            resource_type=resource_type, resource_id=resource_id, decision=decision,
                            purpose=purpose, key=key)

    def record_denied(self, principal: Principal | None, action: str, resource_type: str,
                      resource_id: str | None, reason: str, traceparent: str | None = None) -> None:
        """A denial is recorded in its own transaction: the request's work is rolled back."""
        with self.uow(traceparent) as uow:
            uow.publish(self.access(principal, action, resource_type, resource_id, Decision(False, reason)))
            uow.commit()

    def deny(self, principal: Principal | None, action: str, resource_type: str, resource_id: str | None,
             reason: str, *, status: int = 403, traceparent: str | None = None) -> Problem:
        """Record the denial and return the Problem to raise. Out-of-scope records answer 404 so that
        their existence does not leak."""
        self.record_denied(principal, action, resource_type, resource_id, reason, traceparent)
        return Problem(status)

    # -- readiness ------------------------------------------------------------------------------
    def readiness_checks(self) -> dict:
        def database() -> bool:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("select 1")
            return True

        def broker() -> bool:
            host, port = self.settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=1):
                return True

        return {"database": database, "broker": broker, "identity_provider_keys": self.jwks.ready}

    # -- FastAPI dependencies -------------------------------------------------------------------
    def principal_dependency(self):
        def current_principal(request: Request) -> Principal:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            reason = None
            if scheme.lower() != "bearer" or not token:
                reason = "no-token"
            else:
                try:
                    principal = self.verifier.verify(token.strip())
                    request.state.principal = principal
                    return principal
                except AuthenticationError as exc:
                    reason = str(exc).replace(" ", "-")[:60]
            self.record_denied(None, "authenticate", "api", request.scope.get("route").path
                               if request.scope.get("route") else None, reason,
                               getattr(request.state, "traceparent", None))
            raise _unauthenticated()
        return current_principal

    def require_roles(self, *roles: str):
        principal_dep = self.principal_dependency()

        # Not Annotated[...]: with postponed annotations FastAPI cannot resolve a closure variable.
        def dependency(request: Request, principal: Principal = Depends(principal_dep)) -> Principal:
            if not principal.has_role(*roles):
                route = request.scope.get("route")
                raise self.deny(principal, f"{request.method} {getattr(route, 'path', '')}", "api", None,
                                "role-missing", traceparent=getattr(request.state, "traceparent", None))
            return principal
        return dependency


def _unauthenticated() -> Problem:
    return Problem(401, detail={"es": "Token ausente o no válido.", "en": "Missing or invalid token."})


def current_traceparent(request: Request) -> str | None:
    return getattr(request.state, "traceparent", None)


def trace_id() -> str | None:
    return trace_id_var.get()
