"""Server-side sessions. The browser holds only an opaque random id in an HttpOnly cookie; tokens,
drafts and flash messages stay here. The store is keyed by SHA-256 of the id, so a memory or
database dump does not hand out live cookie values.

`SessionStore` is the pluggable interface; `MemorySessionStore` is the implementation the
frontend ships (one replica, or sticky sessions behind the ingress). A shared store (PostgreSQL,
Redis) only has to implement the four methods."""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None
    id_token: str | None
    access_expires_at: float
    refresh_expires_at: float | None


@dataclass
class User:
    subject: str
    username: str
    name: str
    roles: frozenset[str]
    groups: tuple[str, ...]
    locale: str | None = None

    @property
    def organisation(self) -> str | None:
        for path in sorted(self.groups, key=len, reverse=True):
            if path.split("/")[1:2] and path.split("/")[1] in ("iom", "government", "civil-society"):
                return path
        return None

    @property
    def organisation_kind(self) -> str | None:
        org = self.organisation
        return org.split("/")[1] if org else None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


@dataclass
class LoginTransaction:
    state: str
    nonce: str
    code_verifier: str
    return_to: str
    created: float


@dataclass
class Session:
    id: str
    created: float
    last_seen: float
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user: User | None = None
    tokens: Tokens | None = None
    locale: str | None = None
    locked: bool = False
    # who the session belonged to before it was locked (drafts survive only for the same person)
    locked_subject: str | None = None
    locked_username: str | None = None
    locked_return_to: str | None = None
    logins: dict[str, LoginTransaction] = field(default_factory=dict)
    flashes: list[tuple[str, str]] = field(default_factory=list)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    expired_return_to: str | None = None
    refresh_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    unread_cache: tuple[float, int | None] | None = field(default=None, repr=False)

    @property
    def authenticated(self) -> bool:
        return self.user is not None and self.tokens is not None and not self.locked

    def flash(self, kind: str, message: str) -> None:
        self.flashes.append((kind, message))
        del self.flashes[:-5]

    def pop_flashes(self) -> list[tuple[str, str]]:
        out, self.flashes = self.flashes, []
        return out

    def clear_identity(self) -> None:
        self.user = None
        self.tokens = None


class SessionStore(Protocol):
    def create(self) -> Session: ...
    def get(self, session_id: str) -> Session | None: ...
    def save(self, session: Session) -> None: ...
    def delete(self, session_id: str) -> None: ...
    def rotate(self, session: Session) -> Session: ...


class MemorySessionStore:
    """In-process store with an absolute lifetime; idle expiry is decided by the middleware (it
    needs to know what the user was doing to send them back there)."""

    def __init__(self, max_lifetime_seconds: int = 36000, max_sessions: int = 50_000,
                 clock=time.time) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.max_lifetime = max_lifetime_seconds
        self.max_sessions = max_sessions
        self.clock = clock

    def create(self) -> Session:
        now = self.clock()
        session_id = secrets.token_urlsafe(32)
        session = Session(id=session_id, created=now, last_seen=now)
        with self._lock:
            self._sweep(now)
            self._sessions[_digest(session_id)] = session
        return session

    def get(self, session_id: str) -> Session | None:
        if not session_id or len(session_id) > 128:
            return None
        with self._lock:
            session = self._sessions.get(_digest(session_id))
            if session is None:
                return None
            if self.clock() - session.created > self.max_lifetime:
                del self._sessions[_digest(session_id)]
                return None
            return session

    def save(self, session: Session) -> None:
        with self._lock:
            self._sessions[_digest(session.id)] = session

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(_digest(session_id), None)

    def rotate(self, session: Session) -> Session:
        """A new id for the same contents (after login: no session fixation)."""
        with self._lock:
            self._sessions.pop(_digest(session.id), None)
            session.id = secrets.token_urlsafe(32)
            session.csrf_token = secrets.token_urlsafe(32)
            self._sessions[_digest(session.id)] = session
        return session

    def __len__(self) -> int:
        return len(self._sessions)

    def _sweep(self, now: float) -> None:
        if len(self._sessions) < self.max_sessions and int(now) % 64:
            return
        for key in [k for k, s in self._sessions.items() if now - s.created > self.max_lifetime
                    or (s.user is None and now - s.last_seen > 3600)]:
            del self._sessions[key]
        while len(self._sessions) >= self.max_sessions:  # oldest first
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
            del self._sessions[oldest]
