"""SQLAlchemy 2 engine and sessions, and a unit of work that collects domain events and writes
them to the outbox in the same transaction as the state change."""
from __future__ import annotations

from collections.abc import Callable
from typing import Self

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .cloudevents import Event


class Base(DeclarativeBase):
    """Each service declares its own Base subclass with its own metadata."""


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True, future=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class UnitOfWork:
    """`with uow: ...; uow.commit()` — state changes and the events they raise commit together.

    Code adds events with `uow.publish(event)`; on commit they are written to the outbox table
    and the relay is woken with NOTIFY (delivered by PostgreSQL only when the transaction commits).
    """

    def __init__(self, session_factory: Callable[[], Session], outbox) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self.events: list[Event] = []

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.events = []
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.session.rollback()
        self.session.close()

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def commit(self) -> None:
        if self.events:
            self._outbox.add_all(self.session, self.events)
        self.session.commit()
        self.events = []

    def rollback(self) -> None:
        self.session.rollback()
        self.events = []


def database_ready(engine: Engine) -> bool:
    with engine.connect() as conn:
        conn.execute(text("select 1"))
    return True
