"""The contracts folder is consistent: every schema is valid JSON Schema, every event type's
aggregate has a topic, schemas forbid unknown fields, and the AsyncAPI document is current."""
import json
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from careroute_platform import contracts

pytestmark = pytest.mark.unit
CONTRACTS = Path(contracts.contracts_dir())
sys.path.insert(0, str(CONTRACTS))
import build_asyncapi  # noqa: E402

SCHEMAS = sorted((CONTRACTS / "events").glob("*.json"))


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_schema_is_valid_closed_and_routed(path):
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema.get("additionalProperties") is False, "event data must not accept unknown fields"
    assert path.stem.endswith(".v1") or path.stem.rsplit(".", 1)[1].startswith("v")
    contracts.topic_for(path.stem.split(".")[0])  # raises if no topic carries this aggregate


def test_asyncapi_document_is_generated_from_the_contracts():
    committed = (CONTRACTS / "asyncapi.yaml").read_text()
    assert committed == build_asyncapi.render(), "run `make contracts` and commit contracts/asyncapi.yaml"


def test_every_topic_has_partitions_producers_and_consumers():
    for name, spec in contracts.topics().items():
        assert spec["partitions"] >= 1 and spec["producers"] and spec["consumers"], name


def test_a_schema_refuses_data_outside_the_contract():
    with pytest.raises(contracts.ContractViolation, match="additionalProperties"):
        contracts.validate("org.iom.careroute.access.recorded.v1", {
            "actor": {"subject": None, "organisation": None, "roles": [], "client": None}, "action": "read",
            "resource": {"type": "case", "id": "c"}, "outcome": "allowed", "reason": "x", "service": "intake",
            "survivor_name": "should never be here"})


def test_every_event_type_is_documented():
    documented = (CONTRACTS.parent / "docs" / "events.md").read_text()
    missing = [p.stem for p in SCHEMAS if f"`{p.stem.rsplit('.', 1)[0]}`" not in documented]
    assert not missing, f"add to docs/events.md: {missing}"
