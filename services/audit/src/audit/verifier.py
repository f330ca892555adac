"""Offline verifier for the Care Route audit log (``careroute-audit-verify``).

It needs no database and no network: an auditor, a partner organisation or a court expert can
check what the audit service handed them with nothing but the log's public key(s).

Subcommands::

    checkpoint  --key K CHECKPOINT                      signature check
    inclusion   --key K --checkpoint CP --entry-file ENTRY.json --index N --proof PROOF.json
    consistency --key K OLD_CP NEW_CP [--proof PROOF.json]
    export      --key K --checkpoint CP EXPORT.jsonl    re-verify a whole exported log
    entries     --key K --checkpoint CP EXPORT.jsonl    verify a filtered export, line by line, with
                                                        the inclusion proof each line carries

Exit status: 0 verified; 1 verification failed (one ``FAIL: ...`` line per problem on stderr);
2 usage error (bad arguments, unreadable file, invalid key, missing proof).

File formats
------------
Keys (``--key``, repeatable so a rotation overlap can trust old and new keys): a verifier key
string ``name+keyid+base64key`` (see audit.domain.checkpoint) or the path of a file holding such
strings, one per line; blank lines and lines starting with ``#`` are ignored.

Checkpoint: a C2SP signed note whose body is a C2SP tlog-checkpoint (origin, size, base64 root).

Entry (``--entry-file``): the JSON object of one log entry. Its Merkle leaf is
``leaf_hash(RFC 8785 canonical JSON bytes of the object)``.

Inclusion proof JSON: ``{"leaf_index": 5, "tree_size": 50, "hashes": ["<base64>", ...]}``
Consistency proof JSON: ``{"size1": 10, "size2": 50, "hashes": ["<base64>", ...]}``
Hashes are 32-byte SHA-256 values in standard base64, in RFC 9162 order (bottom-up).

Export (JSON Lines, UTF-8): one object per line, in index order 0 .. size-1::

    {"index": 0, "entry": {...}, "leaf_hash": "<base64>"}

``leaf_hash`` is optional; when present it must match the entry. Other keys are ignored.
A filtered export (a search result) cannot be re-hashed into the checkpoint's root, so each of its
lines carries ``"proof": {"leaf_index", "tree_size", "hashes"}`` (the inclusion proof format below)
and is checked with the ``entries`` subcommand.
JSON objects with duplicate keys and the constants NaN/Infinity are rejected: RFC 8785 forbids
them and they would let two readers see different entries behind the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from audit.domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    InvalidKeyError,
    MalformedNoteError,
    NoteError,
    Verifier,
    open_checkpoint,
    parse_verifier,
)
from audit.domain.merkle import (
    HASH_SIZE,
    ProofError,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX_PRINTED_PROBLEMS = 50  # a totally corrupt export should not flood the terminal

# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One verification failure: a stable machine code and a one-line human message."""

    code: str
    message: str


@dataclass
class Report:
    """Outcome of a check. ok is True exactly when no problem was found."""

    problems: list[Problem] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    signed_by: tuple[str, ...] = ()  # name+keyid of the trusted keys that signed the checkpoint
    entries: int = 0  # export only: entries read

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, code: str, message: str) -> None:
        self.problems.append(Problem(code, message))

    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


class UsageError(Exception):
    """The check cannot be run as asked (exit status 2)."""


class FormatError(ValueError):
    """A proof, entry or export record does not follow the documented JSON format."""


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def loads_strict(text: str | bytes) -> Any:
    """json.loads that refuses duplicate keys and NaN/Infinity (not representable in RFC 8785)."""
    return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def entry_leaf_hash(entry: Any) -> bytes:
    """Merkle leaf of a log entry: leaf_hash over its RFC 8785 canonical JSON bytes."""
    return leaf_hash(rfc8785.dumps(entry))


def _decode_hash(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if len(raw) != HASH_SIZE:
        raise FormatError(f"{what} has {len(raw)} bytes, expected {HASH_SIZE}")
    return raw


def _int_field(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FormatError(f"{name!r} must be a non-negative integer")
    return value


def _hashes_field(obj: dict[str, Any]) -> list[bytes]:
    hashes = obj.get("hashes")
    if not isinstance(hashes, list):
        raise FormatError("'hashes' must be a list of base64 strings")
    return [_decode_hash(h, f"hashes[{i}]") for i, h in enumerate(hashes)]


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    @classmethod
    def from_json(cls, obj: Any) -> InclusionProof:
        if not isinstance(obj, dict):
            raise FormatError("inclusion proof must be a JSON object")
        return cls(_int_field(obj, "leaf_index"), _int_field(obj, "tree_size"), tuple(_hashes_field(obj)))

    def to_json(self) -> dict[str, Any]:
        hashes = [base64.b64encode(h).decode() for h in self.hashes]
        return {"leaf_index": self.leaf_index, "tree_size": self.tree_size, "hashes": hashes}


@dataclass(frozen=True)
class ConsistencyProof:
    size1: int
    size2: int
    hashes: tuple[bytes, ...]

    @classmethod
    def from_json(cls, obj: Any) -> ConsistencyProof:
        if not isinstance(obj, dict):
            raise FormatError("consistency proof must be a JSON object")
        return cls(_int_field(obj, "size1"), _int_field(obj, "size2"), tuple(_hashes_field(obj)))

    def to_json(self) -> dict[str, Any]:
        hashes = [base64.b64encode(h).decode() for h in self.hashes]
        return {"size1": self.size1, "size2": self.size2, "hashes": hashes}


def export_line(index: int, entry: Any, *, with_leaf_hash: bool = True) -> str:
    """One line of an export file (canonical JSON, newline-terminated), as the service writes it."""
    obj: dict[str, Any] = {"index": index, "entry": entry}
    if with_leaf_hash:
        obj["leaf_hash"] = base64.b64encode(entry_leaf_hash(entry)).decode()
    return rfc8785.dumps(obj).decode() + "\n"


# --------------------------------------------------------------------------------------------
# Checks (library API; the CLI below is a thin shell around these)
# --------------------------------------------------------------------------------------------


def _open(report: Report, note: str | bytes, keys: Sequence[Verifier | str], what: str) -> Checkpoint | None:
    """Verify and parse a checkpoint; on failure record the problem and return None.

    The first checkpoint opened successfully becomes report.checkpoint (with its signers).
    """
    try:
        checkpoint, opened = open_checkpoint(note, keys)
    except MalformedNoteError as exc:
        report.add("malformed-checkpoint", f"{what}: {exc}")
        return None
    except NoteError as exc:  # invalid signature by a trusted key, or none at all
        report.add("bad-signature", f"{what}: bad signature: {exc}")
        return None
    except CheckpointError as exc:
        report.add("malformed-checkpoint", f"{what}: {exc}")
        return None
    except InvalidKeyError as exc:  # two trusted keys collide: the caller must fix the key set
        raise UsageError(str(exc)) from None
    if report.checkpoint is None:
        report.checkpoint = checkpoint
        report.signed_by = tuple(v.label() for v in opened.signed_by)
    return checkpoint


def verify_checkpoint(note: str | bytes, verifier_keys: Sequence[Verifier | str]) -> Report:
    """Check a checkpoint's signature(s) and syntax."""
    report = Report()
    _open(report, note, verifier_keys, "checkpoint")
    return report


def verify_entry_inclusion(
    note: str | bytes,
    verifier_keys: Sequence[Verifier | str],
    entry: Any,
    index: int,
    proof: InclusionProof,
) -> Report:
    """Check that `entry` is entry number `index` of the log the checkpoint commits to."""
    report = Report()
    checkpoint = _open(report, note, verifier_keys, "checkpoint")
    if checkpoint is None:
        return report
    if proof.tree_size != checkpoint.size:
        report.add(
            "proof-mismatch",
            f"proof is for tree size {proof.tree_size} but the checkpoint size is {checkpoint.size}",
        )
    if proof.leaf_index != index:
        report.add("proof-mismatch", f"proof is for entry {proof.leaf_index} but entry {index} was asked for")
    try:
        leaf = entry_leaf_hash(entry)
    except rfc8785.CanonicalizationError as exc:
        report.add("bad-entry", f"entry cannot be canonicalised (RFC 8785): {exc}")
        return report
    if report.ok:
        try:
            verify_inclusion(leaf, index, checkpoint.size, proof.hashes, checkpoint.root)
        except ProofError as exc:
            report.add("not-included", f"entry {index} is not in the log at size {checkpoint.size}: {exc}")
    return report


def verify_checkpoint_consistency(
    old_note: str | bytes,
    new_note: str | bytes,
    verifier_keys: Sequence[Verifier | str],
    proof: ConsistencyProof | None,
) -> Report:
    """Check that the new checkpoint's log is an append-only extension of the old one's.

    `proof` may be None when no proof is needed (equal sizes, or an empty old tree).
    """
    report = Report()
    new = _open(report, new_note, verifier_keys, "new checkpoint")  # first: report.checkpoint = new
    old = _open(report, old_note, verifier_keys, "old checkpoint")
    if old is None or new is None:
        return report
    if old.origin != new.origin:
        report.add(
            "different-logs", f"checkpoints are from different logs ({old.origin!r} vs {new.origin!r})"
        )
    elif new.size < old.size:
        report.add(
            "size-backwards", f"checkpoint sizes go backwards: old size {old.size}, new size {new.size}"
        )
    elif new.size == old.size:
        if new.root != old.root:
            report.add(
                "forked-history", f"forked history: both checkpoints have size {old.size} but different roots"
            )
    elif proof is None:
        if old.size > 0:
            report.add("missing-proof", f"a consistency proof is needed for sizes {old.size} -> {new.size}")
        else:
            _check_consistency(report, old, new, ())
    elif (proof.size1, proof.size2) != (old.size, new.size):
        report.add(
            "proof-mismatch",
            f"proof is for sizes {proof.size1} -> {proof.size2} "
            f"but the checkpoints have sizes {old.size} -> {new.size}",
        )
    else:
        _check_consistency(report, old, new, proof.hashes)
    return report


def _check_consistency(report: Report, old: Checkpoint, new: Checkpoint, hashes: Sequence[bytes]) -> None:
    try:
        verify_consistency(old.size, new.size, hashes, old.root, new.root)
    except ProofError as exc:
        report.add("inconsistent", f"new checkpoint does not extend the old one (history rewritten?): {exc}")


def _ranges(indexes: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in indexes:
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def verify_export(
    lines: Iterable[str | bytes], checkpoint_note: str | bytes, verifier_keys: Sequence[Verifier | str]
) -> Report:
    """Re-verify a whole exported log against a signed checkpoint.

    Recomputes the Merkle tree from the entries in file order and compares size and root with
    the checkpoint, and names what went wrong: edited entries (leaf_hash mismatch), deleted
    entries (missing indexes, too few entries), inserted entries (repeated or extra indexes, too
    many entries), reordered entries (indexes out of order), a root mismatch, a bad signature.
    """
    report = Report()
    checkpoint = _open(report, checkpoint_note, verifier_keys, "checkpoint")
    if checkpoint is None:
        return report  # nothing trustworthy to compare against
    size = checkpoint.size
    seen = bytearray(size)  # one flag per index the checkpoint covers; memory-light for big logs
    previous: int | None = None

    def leaves() -> Iterable[bytes]:
        # A generator so the tree is folded while streaming: O(log n) memory for the hashes.
        nonlocal previous
        for line_no, raw in enumerate(lines, start=1):
            try:
                text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                if not text.strip():
                    continue
                obj = loads_strict(text)
                if not isinstance(obj, dict) or "entry" not in obj:
                    raise FormatError("expected an object with 'index' and 'entry'")
                index = _int_field(obj, "index")
            except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
                report.add("malformed-line", f"line {line_no}: not a valid export record ({exc})")
                continue
            report.entries += 1
            where = f"entry {index} (line {line_no})"

            if index >= size:
                report.add("extra-entry", f"{where}: beyond the checkpoint size {size}: inserted entry")
            elif seen[index]:
                report.add(
                    "duplicate-index", f"{where}: index {index} appears twice: inserted or duplicated entry"
                )
            else:
                seen[index] = 1
            if previous is not None and index < previous:
                report.add("out-of-order", f"{where}: comes after entry {previous}: entries reordered")
            previous = index

            try:
                h = entry_leaf_hash(obj["entry"])
            except rfc8785.CanonicalizationError as exc:
                report.add("bad-entry", f"{where}: entry cannot be canonicalised (RFC 8785): {exc}")
                h = leaf_hash(text.encode())  # keep positions aligned; the root will not match
            if "leaf_hash" in obj:
                try:
                    if _decode_hash(obj["leaf_hash"], "leaf_hash") != h:
                        report.add(
                            "leaf-hash-mismatch", f"{where}: leaf_hash does not match the entry: entry edited"
                        )
                except ValueError as exc:
                    report.add("malformed-line", f"{where}: {exc}")
            yield h

    count, root = root_from_leaf_hashes(leaves())
    missing = [i for i, flag in enumerate(seen) if not flag]
    for first, last in _ranges(missing):
        what = f"entry {first} is" if first == last else f"entries {first}-{last} are"
        report.add("missing-entry", f"{what} missing: deleted entry")
    if count < size:
        report.add(
            "too-few-entries",
            f"export has {count} entries but the checkpoint size is {size}: entries deleted",
        )
    elif count > size:
        report.add(
            "too-many-entries",
            f"export has {count} entries but the checkpoint size is {size}: entries inserted",
        )
    elif root != checkpoint.root:
        report.add(
            "root-mismatch",
            f"recomputed root {base64.b64encode(root).decode()} does not match the checkpoint root "
            f"{base64.b64encode(checkpoint.root).decode()}: log tampered",
        )
    return report


def verify_entries_with_proofs(
    lines: Iterable[str | bytes], checkpoint_note: str | bytes, verifier_keys: Sequence[Verifier | str]
) -> Report:
    """Verify a filtered export: every line's entry is included, at its index, in the tree the
    checkpoint commits to, by the inclusion proof the line carries. (Entries the export leaves out
    are not detected - that is what a whole-log export and `verify_export` are for.)"""
    report = Report()
    checkpoint = _open(report, checkpoint_note, verifier_keys, "checkpoint")
    if checkpoint is None:
        return report
    seen: set[int] = set()
    for line_no, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if not text.strip():
                continue
            obj = loads_strict(text)
            if not isinstance(obj, dict) or "entry" not in obj:
                raise FormatError("expected an object with 'index', 'entry' and 'proof'")
            index = _int_field(obj, "index")
            if "proof" not in obj:
                raise FormatError("no 'proof' on this line")
            proof = InclusionProof.from_json(obj["proof"])
        except ValueError as exc:
            report.add("malformed-line", f"line {line_no}: not a valid export record ({exc})")
            continue
        report.entries += 1
        where = f"entry {index} (line {line_no})"
        if index in seen:
            report.add("duplicate-index", f"{where}: index {index} appears twice")
        seen.add(index)
        if proof.tree_size != checkpoint.size or proof.leaf_index != index:
            report.add("proof-mismatch", f"{where}: proof is for entry {proof.leaf_index} of tree size "
                                         f"{proof.tree_size}, not entry {index} of size {checkpoint.size}")
            continue
        try:
            leaf = entry_leaf_hash(obj["entry"])
        except rfc8785.CanonicalizationError as exc:
            report.add("bad-entry", f"{where}: entry cannot be canonicalised (RFC 8785): {exc}")
            continue
        if "leaf_hash" in obj:
            try:
                if _decode_hash(obj["leaf_hash"], "leaf_hash") != leaf:
                    report.add("leaf-hash-mismatch", f"{where}: leaf_hash does not match the entry: entry edited")
            except ValueError as exc:
                report.add("malformed-line", f"{where}: {exc}")
        try:
            verify_inclusion(leaf, index, checkpoint.size, proof.hashes, checkpoint.root)
        except ProofError as exc:
            report.add("not-included", f"{where}: not in the log at size {checkpoint.size}: {exc}")
    return report


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def load_keys(values: Sequence[str]) -> list[Verifier]:
    """Each --key value is a key string or a file of key strings (one per line)."""
    keys: list[Verifier] = []
    for value in values:
        if os.path.isfile(value):
            lines = [ln.strip() for ln in _read_text(value).splitlines()]
            candidates = [ln for ln in lines if ln and not ln.startswith("#")]
            if not candidates:
                raise UsageError(f"key file {value} contains no keys")
        else:
            candidates = [value]
        for candidate in candidates:
            try:
                keys.append(parse_verifier(candidate))
            except InvalidKeyError as exc:
                raise UsageError(f"--key {value}: not a key file nor a valid verifier key ({exc})") from None
    return keys


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as f:  # newline="": keep the note's bytes
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def _read_json(path: str, what: str, report: Report) -> Any:
    try:
        return loads_strict(_read_text(path))
    except ValueError as exc:
        report.add(f"malformed-{what}", f"{path}: not valid JSON ({exc})")
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="careroute-audit-verify",
        description="Verify Care Route audit-log checkpoints, proofs and exports offline.",
        epilog="Exit status: 0 verified, 1 verification failed, 2 usage error.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_key(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--key",
            action="append",
            required=True,
            metavar="VKEY_FILE_OR_STRING",
            help="trusted verifier key, or file of keys (repeat for rotation)",
        )
        return p

    p = with_key(sub.add_parser("checkpoint", help="check a checkpoint's signature"))
    p.add_argument("checkpoint_file", metavar="CHECKPOINT_FILE")

    p = with_key(sub.add_parser("inclusion", help="check that an entry is in the log"))
    p.add_argument("--checkpoint", required=True, metavar="CHECKPOINT_FILE")
    p.add_argument("--entry-file", required=True, metavar="ENTRY_JSON")
    p.add_argument("--index", required=True, type=int, metavar="N")
    p.add_argument("--proof", required=True, metavar="PROOF_JSON")

    p = with_key(sub.add_parser("consistency", help="check that a newer checkpoint extends an older one"))
    p.add_argument("old_checkpoint", metavar="OLD_CHECKPOINT")
    p.add_argument("new_checkpoint", metavar="NEW_CHECKPOINT")
    p.add_argument(
        "--proof", metavar="PROOF_JSON", help="needed unless the sizes are equal or the old log is empty"
    )

    p = with_key(sub.add_parser("export", help="re-verify a whole exported log against a checkpoint"))
    p.add_argument("--checkpoint", required=True, metavar="CHECKPOINT_FILE")
    p.add_argument("export_file", metavar="EXPORT_JSONL")

    p = with_key(sub.add_parser("entries", help="verify a filtered export whose lines carry inclusion proofs"))
    p.add_argument("--checkpoint", required=True, metavar="CHECKPOINT_FILE")
    p.add_argument("export_file", metavar="EXPORT_JSONL")
    return parser


def _run(args: argparse.Namespace) -> tuple[Report, str]:
    """Run one subcommand; returns the report and the success message."""
    keys = load_keys(args.key)
    if args.command == "checkpoint":
        report = verify_checkpoint(_read_text(args.checkpoint_file), keys)
        summary = "checkpoint"
    elif args.command == "inclusion":
        note = _read_text(args.checkpoint)
        report = Report()
        entry = _read_json(args.entry_file, "entry", report)
        proof_obj = _read_json(args.proof, "proof", report)
        if not report.ok:
            return report, ""
        try:
            proof = InclusionProof.from_json(proof_obj)
        except ValueError as exc:
            report.add("malformed-proof", f"{args.proof}: {exc}")
            return report, ""
        report = verify_entry_inclusion(note, keys, entry, args.index, proof)
        summary = f"entry {args.index} is included in"
    elif args.command == "consistency":
        old_note, new_note = _read_text(args.old_checkpoint), _read_text(args.new_checkpoint)
        cproof = None
        if args.proof is not None:
            report = Report()
            proof_obj = _read_json(args.proof, "proof", report)
            if not report.ok:
                return report, ""
            try:
                cproof = ConsistencyProof.from_json(proof_obj)
            except ValueError as exc:
                report.add("malformed-proof", f"{args.proof}: {exc}")
                return report, ""
        report = verify_checkpoint_consistency(old_note, new_note, keys, cproof)
        if "missing-proof" in report.codes():
            raise UsageError(report.problems[0].message + " (pass --proof)")
        summary = "history is consistent up to"
    else:
        note = _read_text(args.checkpoint)
        check = verify_export if args.command == "export" else verify_entries_with_proofs
        try:
            with open(args.export_file, "rb") as f:
                report = check(f, note, keys)
        except OSError as exc:
            raise UsageError(f"cannot read {args.export_file}: {exc}") from None
        summary = (f"export of {report.entries} entries matches" if args.command == "export"
                   else f"all {report.entries} exported entries are included in")
    return report, summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return int(exc.code or 0)
    try:
        report, summary = _run(args)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    if report.ok:
        cp = report.checkpoint
        assert cp is not None
        root = base64.b64encode(cp.root).decode()
        print(
            f"OK: {summary} checkpoint {cp.origin} size {cp.size} root {root} "
            f"(signed by {', '.join(report.signed_by)})"
        )
        return 0
    for problem in report.problems[:MAX_PRINTED_PROBLEMS]:
        print(f"FAIL: {problem.message}", file=sys.stderr)
    if len(report.problems) > MAX_PRINTED_PROBLEMS:
        print(f"FAIL: ... and {len(report.problems) - MAX_PRINTED_PROBLEMS} more problems", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
