"""The transparency-dev RFC 6962 test vectors: verification succeeds exactly when wantErr is false.

The vectors live outside the repository (shared/ sits beside the repo root) so they are found
by walking up from this file to the directory that contains services/.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from audit.domain.merkle import ProofError, verify_consistency, verify_inclusion

pytestmark = pytest.mark.unit


def _repo_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "services").is_dir():
            return parent
    raise RuntimeError("cannot find the repository root (a directory containing services/)")


VECTORS = _repo_root().parent / "shared" / "vectors" / "rfc6962"
INCLUSION = sorted((VECTORS / "inclusion").glob("**/*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").glob("**/*.json"))


def _id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_vectors_are_present() -> None:
    # Guard against the parametrized tests silently collecting nothing.
    assert len(INCLUSION) >= 40, f"inclusion vectors missing under {VECTORS}"
    assert len(CONSISTENCY) >= 40, f"consistency vectors missing under {VECTORS}"


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    case = _load(path)
    proof = [_b64(h) for h in case["proof"] or []]
    try:
        verify_inclusion(_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"]))
    except ProofError as exc:
        assert case["wantErr"], f"{case['desc']}: unexpected failure: {exc}"
    else:
        assert not case["wantErr"], f"{case['desc']}: bad proof was accepted"


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vector(path: Path) -> None:
    case = _load(path)
    proof = [_b64(h) for h in case["proof"] or []]
    try:
        verify_consistency(case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"]))
    except ProofError as exc:
        assert case["wantErr"], f"{case['desc']}: unexpected failure: {exc}"
    else:
        assert not case["wantErr"], f"{case['desc']}: bad proof was accepted"
