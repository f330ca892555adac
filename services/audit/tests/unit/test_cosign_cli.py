"""careroute-audit-cosign: a witness creates a key, checks a checkpoint (and that it extends the last
one it cosigned) and produces a cosignature line that verifies."""
from __future__ import annotations

import base64
import json

import pytest
from audit.cosign import main
from audit.domain.checkpoint import Checkpoint, generate_signer, parse_signer, sign_checkpoint
from audit.domain.merkle import MerkleTree
from audit.verifier import verify_checkpoint

pytestmark = pytest.mark.unit
ORIGIN = "careroute.iom.int/audit"


def test_keygen_sign_and_verify(tmp_path, capsys):
    skey, vkey = generate_signer(ORIGIN)
    tree = MerkleTree()
    tree.append_data(f"e{i}".encode() for i in range(10))
    old = sign_checkpoint(Checkpoint(ORIGIN, 6, tree.root(6)), parse_signer(skey))
    new = sign_checkpoint(Checkpoint(ORIGIN, 10, tree.root(10)), parse_signer(skey))
    (tmp_path / "old").write_text(old)
    (tmp_path / "new").write_text(new)
    (tmp_path / "proof.json").write_text(json.dumps({"size1": 6, "size2": 10, "hashes": [
        base64.b64encode(h).decode() for h in tree.consistency_proof(6, 10)]}))

    assert main(["keygen", "fiscalia.gob.ec/witness", "--out", str(tmp_path / "w.key")]) == 0
    witness_vkey = capsys.readouterr().out.strip()
    assert (tmp_path / "w.key").stat().st_mode & 0o077 == 0
    assert main(["keygen", "fiscalia.gob.ec/witness", "--out", str(tmp_path / "w.key")]) == 2

    args = ["sign", "--log-key", vkey, "--key", str(tmp_path / "w.key"), str(tmp_path / "new"),
            "--previous", str(tmp_path / "old"), "--proof", str(tmp_path / "proof.json"),
            "--out", str(tmp_path / "cosigned")]
    assert main(args) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("\u2014 fiscalia.gob.ec/witness ")
    cosigned = (tmp_path / "cosigned").read_text()
    assert verify_checkpoint(cosigned, [witness_vkey]).ok and verify_checkpoint(cosigned, [vkey]).ok

    # a forked checkpoint (same size as before, other root) is refused
    forked = sign_checkpoint(Checkpoint(ORIGIN, 10, b"\x01" * 32), parse_signer(skey))
    (tmp_path / "forked").write_text(forked)
    args[5] = str(tmp_path / "forked")
    assert main(args) == 1
    # a checkpoint not signed by the log's key is refused
    other, _ = generate_signer(ORIGIN)
    (tmp_path / "foreign").write_text(sign_checkpoint(Checkpoint(ORIGIN, 10, tree.root(10)), parse_signer(other)))
    assert main(["sign", "--log-key", vkey, "--key", str(tmp_path / "w.key"), str(tmp_path / "foreign")]) == 1
