"""docs/api/<service>.openapi.json are the services' own OpenAPI documents, taken from the running
apps (some need their database to start, hence the harness). `make contracts` rewrites them
(CAREROUTE_WRITE_OPENAPI=1); this test fails when a committed document is stale."""
import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"


@pytest.mark.parametrize("service", ["intake", "referral", "notify", "audit"])
def test_committed_openapi_document_is_current(service_harness, service):
    document = json.dumps(service_harness(service).app.openapi(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path = DOCS / f"{service}.openapi.json"
    if os.environ.get("CAREROUTE_WRITE_OPENAPI"):
        path.write_text(document)
    assert path.exists() and path.read_text() == document, "run `make contracts` and commit docs/api/"
    spec = json.loads(document)
    assert spec["openapi"].startswith("3.") and spec["paths"]
    # every operation documents its errors as problem+json
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            assert any(code.startswith(("4", "5")) for code in operation.get("responses", {})) or \
                operation.get("responses", {}).get("422"), operation.get("operationId")
