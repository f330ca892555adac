"""The offline verifier: library checks and the careroute-audit-verify command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from audit.domain.checkpoint import Checkpoint, generate_signer, parse_signer, sign_checkpoint
from audit.domain.merkle import MerkleTree
from audit.verifier import (
    ConsistencyProof,
    InclusionProof,
    entry_leaf_hash,
    export_line,
    main,
    verify_checkpoint_consistency,
    verify_entry_inclusion,
    verify_export,
)

pytestmark = pytest.mark.unit

ORIGIN = "careroute.example/audit"
SKEY, VKEY = generate_signer(ORIGIN)
SIGNER = parse_signer(SKEY)
N = 50


def make_entries(n: int = N) -> list[dict[str, Any]]:
    actions = ["referral.created", "referral.viewed", "referral.accepted", "case.note.read"]
    return [
        {
            "seq": i,
            "actor": f"caseworker-{i % 9}",
            "action": actions[i % 4],
            "subject": f"ref-{1000 + i}",
            "at": f"2025-01-01T10:{i // 60:02d}:{i % 60:02d}Z",
            "details": {"ok": True, "attempt": 1.5},
        }
        for i in range(n)
    ]


def build(entries: list[dict[str, Any]]) -> MerkleTree:
    tree = MerkleTree()
    tree.append(entry_leaf_hash(e) for e in entries)
    return tree


def checkpoint_for(tree: MerkleTree, size: int | None = None) -> str:
    size = tree.size if size is None else size
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), SIGNER)


ENTRIES = make_entries()
TREE = build(ENTRIES)
CHECKPOINT = checkpoint_for(TREE)
EXPORT = [export_line(i, e) for i, e in enumerate(ENTRIES)]


def codes(lines: list[str], note: str = CHECKPOINT) -> list[str]:
    return sorted(set(verify_export(lines, note, [VKEY]).codes()))


def messages(lines: list[str], note: str = CHECKPOINT) -> list[str]:
    return [p.message for p in verify_export(lines, note, [VKEY]).problems]


# --- export, library -------------------------------------------------------------------------


def test_export_verifies() -> None:
    report = verify_export(EXPORT, CHECKPOINT, [VKEY])
    assert report.ok, report.problems
    assert report.entries == N and report.checkpoint is not None and report.checkpoint.size == N
    # leaf_hash is optional, and bytes lines (as read from a file) work too.
    no_hashes = [export_line(i, e, with_leaf_hash=False).encode() for i, e in enumerate(ENTRIES)]
    assert verify_export(no_hashes, CHECKPOINT, [VKEY]).ok


def _flip_bit(line: str) -> str:
    # Flip the lowest bit of the digit in "caseworker-N": still valid JSON, different entry.
    pos = line.index('"caseworker-') + len('"caseworker-')
    return line[:pos] + chr(ord(line[pos]) ^ 1) + line[pos + 1 :]


def test_flipped_bit_is_detected() -> None:
    lines = list(EXPORT)
    lines[17] = _flip_bit(lines[17])
    assert codes(lines) == ["leaf-hash-mismatch", "root-mismatch"]
    assert "entry 17 (line 18): leaf_hash does not match the entry: entry edited" in messages(lines)
    # Without per-line leaf hashes, the recomputed root still gives it away.
    bare = [
        _flip_bit(export_line(i, e, with_leaf_hash=False))
        if i == 17
        else export_line(i, e, with_leaf_hash=False)
        for i, e in enumerate(ENTRIES)
    ]
    assert codes(bare) == ["root-mismatch"]
    assert any("does not match the checkpoint root" in m and "log tampered" in m for m in messages(bare))


def test_deleted_entry_is_detected() -> None:
    lines = EXPORT[:20] + EXPORT[21:]
    assert codes(lines) == ["missing-entry", "too-few-entries"]
    assert messages(lines) == [
        "entry 20 is missing: deleted entry",
        "export has 49 entries but the checkpoint size is 50: entries deleted",
    ]
    # Deleting and renumbering the rest is still caught.
    renumbered = [export_line(i, e) for i, e in enumerate(ENTRIES[:20] + ENTRIES[21:])]
    assert "too-few-entries" in codes(renumbered)


def test_inserted_entry_is_detected() -> None:
    forged = export_line(25, {"seq": 25, "actor": "intruder", "action": "referral.viewed"})
    lines = EXPORT[:25] + [forged] + EXPORT[25:]
    assert codes(lines) == ["duplicate-index", "too-many-entries"]
    assert "entry 25 (line 27): index 25 appears twice: inserted or duplicated entry" in messages(lines)
    appended = EXPORT + [export_line(N, {"seq": N, "actor": "intruder"})]
    assert codes(appended) == ["extra-entry", "too-many-entries"]
    assert messages(appended)[0] == "entry 50 (line 51): beyond the checkpoint size 50: inserted entry"


def test_reordered_entries_are_detected() -> None:
    lines = list(EXPORT)
    lines[30], lines[31] = lines[31], lines[30]
    assert codes(lines) == ["out-of-order", "root-mismatch"]
    assert "entry 30 (line 32): comes after entry 31: entries reordered" in messages(lines)


def test_forked_checkpoint_is_detected() -> None:
    # A checkpoint of the same size over a different history: the export no longer matches it.
    other = make_entries()
    other[3] = {**other[3], "actor": "someone-else"}
    fork = checkpoint_for(build(other))
    assert codes(EXPORT, fork) == ["root-mismatch"]


def test_bad_signature_is_detected() -> None:
    tampered = CHECKPOINT.replace(f"\n{N}\n", f"\n{N - 1}\n", 1)
    assert codes(EXPORT[:-1], tampered) == ["bad-signature"]
    assert messages(EXPORT, tampered) == [
        f"checkpoint: bad signature: invalid signature for key {SIGNER.verifier.label()}"
    ]
    _, stranger = generate_signer(ORIGIN)
    report = verify_export(EXPORT, CHECKPOINT, [stranger])
    assert report.codes() == ["bad-signature"]
    assert "no valid signature from a trusted key" in report.problems[0].message


def test_malformed_lines_are_reported() -> None:
    lines = list(EXPORT)
    lines[5] = "this is not json\n"
    lines[6] = lines[6].replace('"index":6', '"index":6,"index":6')
    got = messages(lines)
    assert got[0].startswith("line 6: not a valid export record")
    assert "duplicate key 'index'" in got[1]


# --- inclusion and consistency, library -------------------------------------------------------


def test_inclusion() -> None:
    proof = InclusionProof(7, N, tuple(TREE.inclusion_proof(7)))
    assert verify_entry_inclusion(CHECKPOINT, [VKEY], ENTRIES[7], 7, proof).ok
    wrong = verify_entry_inclusion(CHECKPOINT, [VKEY], ENTRIES[8], 7, proof)
    assert wrong.codes() == ["not-included"]
    assert wrong.problems[0].message.startswith("entry 7 is not in the log at size 50: proof does not lead")
    stale = InclusionProof(7, 40, tuple(TREE.inclusion_proof(7, 40)))
    assert verify_entry_inclusion(CHECKPOINT, [VKEY], ENTRIES[7], 7, stale).codes() == ["proof-mismatch"]
    assert InclusionProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof


def test_consistency() -> None:
    old = checkpoint_for(TREE, 20)
    proof = ConsistencyProof(20, N, tuple(TREE.consistency_proof(20)))
    assert verify_checkpoint_consistency(old, CHECKPOINT, [VKEY], proof).ok
    backwards = verify_checkpoint_consistency(CHECKPOINT, old, [VKEY], proof)
    assert [p.message for p in backwards.problems] == [
        "checkpoint sizes go backwards: old size 50, new size 20"
    ]
    fork = checkpoint_for(build([*ENTRIES[:3], {"rewritten": True}, *ENTRIES[4:]]))
    forked = verify_checkpoint_consistency(CHECKPOINT, fork, [VKEY], None)
    assert [p.message for p in forked.problems] == [
        "forked history: both checkpoints have size 50 but different roots"
    ]
    # A rewritten past (entry 3 changed) cannot be proven consistent with the old checkpoint.
    rewritten = build([*ENTRIES[:3], {"rewritten": True}, *ENTRIES[4:]])
    bad = ConsistencyProof(20, N, tuple(rewritten.consistency_proof(20)))
    report = verify_checkpoint_consistency(old, fork, [VKEY], bad)
    assert report.codes() == ["inconsistent"]
    assert ConsistencyProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof


# --- command line ------------------------------------------------------------------------------


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "key": tmp_path / "log.pub",
        "cp": tmp_path / "checkpoint.txt",
        "old": tmp_path / "old.txt",
        "export": tmp_path / "export.jsonl",
        "entry": tmp_path / "entry.json",
        "iproof": tmp_path / "inclusion.json",
        "cproof": tmp_path / "consistency.json",
    }
    _, retired = generate_signer(ORIGIN)
    paths["key"].write_text(f"# current and retired log keys\n{VKEY}\n\n{retired}\n")
    paths["cp"].write_text(CHECKPOINT)
    paths["old"].write_text(checkpoint_for(TREE, 20))
    paths["export"].write_text("".join(EXPORT))
    paths["entry"].write_text(json.dumps(ENTRIES[7]))
    paths["iproof"].write_text(json.dumps(InclusionProof(7, N, tuple(TREE.inclusion_proof(7))).to_json()))
    paths["cproof"].write_text(
        json.dumps(ConsistencyProof(20, N, tuple(TREE.consistency_proof(20))).to_json())
    )
    return paths


def test_cli_success(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    f = {k: str(v) for k, v in files.items()}
    assert main(["checkpoint", "--key", f["key"], f["cp"]]) == 0
    assert (
        main(
            [
                "inclusion",
                "--checkpoint",
                f["cp"],
                "--key",
                VKEY,
                "--entry-file",
                f["entry"],
                "--index",
                "7",
                "--proof",
                f["iproof"],
            ]
        )
        == 0
    )
    assert main(["consistency", "--key", f["key"], f["old"], f["cp"], "--proof", f["cproof"]]) == 0
    assert main(["consistency", "--key", f["key"], f["cp"], f["cp"]]) == 0  # same checkpoint, no proof
    assert main(["export", "--key", f["key"], "--checkpoint", f["cp"], f["export"]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and all(line.startswith("OK: ") for line in out)
    assert out[-1].startswith(f"OK: export of 50 entries matches checkpoint {ORIGIN} size 50 root ")


def test_cli_failures(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    f = {k: str(v) for k, v in files.items()}
    lines = list(EXPORT)
    lines[17] = _flip_bit(lines[17])
    files["export"].write_text("".join(lines))
    assert main(["export", "--key", f["key"], "--checkpoint", f["cp"], f["export"]]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "FAIL: entry 17 (line 18): leaf_hash does not match the entry: entry edited"
    assert err[1].startswith("FAIL: recomputed root ")

    assert main(["consistency", "--key", f["key"], f["cp"], f["old"], "--proof", f["cproof"]]) == 1
    assert capsys.readouterr().err == "FAIL: checkpoint sizes go backwards: old size 50, new size 20\n"

    files["cp"].write_text(CHECKPOINT.replace(f"\n{N}\n", f"\n{N + 1}\n"))
    assert main(["checkpoint", "--key", f["key"], f["cp"]]) == 1
    assert "bad signature: invalid signature" in capsys.readouterr().err

    assert (
        main(
            [
                "inclusion",
                "--checkpoint",
                f["old"],
                "--key",
                VKEY,
                "--entry-file",
                f["entry"],
                "--index",
                "7",
                "--proof",
                f["iproof"],
            ]
        )
        == 1
    )
    assert "proof is for tree size 50 but the checkpoint size is 20" in capsys.readouterr().err


def test_cli_usage_errors(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    f = {k: str(v) for k, v in files.items()}
    assert main([]) == 2
    assert main(["export", f["export"]]) == 2  # --key and --checkpoint missing
    assert main(["checkpoint", "--key", "not-a-key", f["cp"]]) == 2
    assert "not a key file nor a valid verifier key" in capsys.readouterr().err
    assert main(["checkpoint", "--key", VKEY, f["cp"] + ".missing"]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["consistency", "--key", VKEY, f["old"], f["cp"]]) == 2
    assert "a consistency proof is needed for sizes 20 -> 50 (pass --proof)" in capsys.readouterr().err


def test_cli_as_a_process(files: dict[str, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "audit.verifier",
            "export",
            "--key",
            str(files["key"]),
            "--checkpoint",
            str(files["cp"]),
            str(files["export"]),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("OK: export of 50 entries")
    files["export"].write_text("".join(EXPORT[:10] + EXPORT[11:]))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "audit.verifier",
            "export",
            "--key",
            str(files["key"]),
            "--checkpoint",
            str(files["cp"]),
            str(files["export"]),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "FAIL: entry 10 is missing: deleted entry",
        "FAIL: export has 49 entries but the checkpoint size is 50: entries deleted",
    ]
