"""The event contracts in `contracts/`: topics (with partition counts) and a JSON Schema for
every event type. Producers validate before writing to the outbox, so an event that breaks its
contract never leaves the service."""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator


class ContractViolation(ValueError):
    pass


def contracts_dir() -> Path:
    configured = os.environ.get("CAREROUTE_CONTRACTS_DIR")
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        if (parent / "contracts" / "topics.yaml").exists():
            return parent / "contracts"
    raise FileNotFoundError("contracts/ not found; set CAREROUTE_CONTRACTS_DIR")


@lru_cache
def topics() -> dict[str, dict]:
    """topic name -> {partitions, aggregates, producers, consumers, description}"""
    return yaml.safe_load((contracts_dir() / "topics.yaml").read_text())["topics"]


def topic_for(aggregate: str) -> str:
    for name, spec in topics().items():
        if aggregate in spec["aggregates"]:
            return name
    raise ContractViolation(f"no topic carries aggregate {aggregate!r}")


@lru_cache
def _validator(event_type: str) -> Draft202012Validator:
    path = contracts_dir() / "events" / f"{event_type.removeprefix('org.iom.careroute.')}.json"
    if not path.exists():
        raise ContractViolation(f"no schema for event type {event_type}")
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(event_type: str, data: dict) -> None:
    errors = sorted(_validator(event_type).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        # The message names the field and the rule, never the offending value.
        raise ContractViolation(f"{event_type}: {where}: {first.validator} violated")


def known_event_types() -> list[str]:
    return sorted("org.iom.careroute." + p.stem for p in (contracts_dir() / "events").glob("*.json"))
