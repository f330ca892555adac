"""Domain errors. They carry codes and bilingual messages written here — never the caller's input."""
from __future__ import annotations


class DomainError(Exception):
    status = 422
    code = "validation"

    def __init__(self, rule: str, *, field: str | None = None, es: str, en: str) -> None:
        super().__init__(rule)
        self.rule = rule
        self.field = field
        self.es = es
        self.en = en


class RuleViolation(DomainError):
    """The request breaks a business rule (422)."""


class Conflict(DomainError):
    """The request does not fit the record's current state (409)."""
    status = 409
    code = "illegal-transition"


class Gone(DomainError):
    status = 410
    code = "gone"
