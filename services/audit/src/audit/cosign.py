"""``careroute-audit-cosign``: how a second organisation (a witness) cosigns the log's checkpoints.

A witness - say the Fiscalía or an oversight body outside IOM - keeps its own Ed25519 key. For each
checkpoint it is shown it checks the log's signature and, given the last checkpoint it cosigned
and a consistency proof, that the log only grew since; then it signs the same checkpoint body and
sends the signature line back to the audit service, which verifies it against the configured
cosigner keys (AUDIT_COSIGNER_KEYS) and serves it with the checkpoint from then on. A checkpoint
that carries a witness's cosignature cannot be silently replaced by a forked history without the
witness's key, even by whoever holds the log's key.

    careroute-audit-cosign keygen NAME --out witness.key     # prints the public key to register
    careroute-audit-cosign sign --log-key LOG_VKEY --key witness.key CHECKPOINT \\
        [--previous LAST_COSIGNED_CHECKPOINT --proof CONSISTENCY.json] [--out COSIGNED_NOTE]

`sign` prints the cosignature line; submit it with
``POST /checkpoints/{size}/cosignatures {"cosignature": "<line>"}``.
Exit status: 0 done, 1 verification failed, 2 usage error.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .domain.checkpoint import InvalidKeyError, NoteError, add_cosignature, generate_signer, parse_signer
from .verifier import (
    ConsistencyProof,
    Report,
    UsageError,
    _read_json,
    _read_text,
    load_keys,
    verify_checkpoint,
    verify_checkpoint_consistency,
)


def _keygen(args) -> int:
    try:
        skey, vkey = generate_signer(args.name)
    except InvalidKeyError as exc:
        raise UsageError(str(exc)) from None
    if os.path.exists(args.out):
        raise UsageError(f"{args.out} exists; refusing to overwrite a key")
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(skey + "\n")
    print(vkey)
    return 0


def _sign(args) -> int:
    log_keys = load_keys(args.log_key)
    note = _read_text(args.checkpoint)
    report = verify_checkpoint(note, log_keys)
    if report.ok and args.previous:
        if not args.proof:
            raise UsageError("--previous needs --proof (GET /proofs/consistency?size1=...&size2=...)")
        proof_report = Report()
        proof_obj = _read_json(args.proof, "proof", proof_report)
        if not proof_report.ok:
            report = proof_report
        else:
            try:
                proof = ConsistencyProof.from_json(proof_obj)
            except ValueError as exc:
                raise UsageError(f"{args.proof}: {exc}") from None
            report = verify_checkpoint_consistency(_read_text(args.previous), note, log_keys, proof)
    if not report.ok:
        for problem in report.problems:
            print(f"FAIL: {problem.message}", file=sys.stderr)
        return 1
    secret = next((ln.strip() for ln in _read_text(args.key).splitlines() if ln.strip() and not ln.startswith("#")), "")
    try:
        signer = parse_signer(secret)
        cosigned = add_cosignature(note, signer, log_keys)
    except (InvalidKeyError, NoteError) as exc:
        raise UsageError(f"cannot cosign: {exc}") from None
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            f.write(cosigned)
    print(cosigned.rstrip("\n").rsplit("\n", 1)[1])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="careroute-audit-cosign",
                                     description="Cosign Care Route audit-log checkpoints as a witness.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("keygen", help="create a witness key pair")
    p.add_argument("name", help="key name, e.g. fiscalia.gob.ec/audit-witness")
    p.add_argument("--out", required=True, help="file for the private key (created with mode 0600)")
    p = sub.add_parser("sign", help="verify a checkpoint and print a cosignature line for it")
    p.add_argument("--log-key", action="append", required=True, help="the log's verifier key(s) or key file")
    p.add_argument("--key", required=True, help="the witness's private key file")
    p.add_argument("checkpoint")
    p.add_argument("--previous", help="the last checkpoint this witness cosigned")
    p.add_argument("--proof", help="consistency proof from --previous to CHECKPOINT")
    p.add_argument("--out", help="also write the cosigned note here")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return _keygen(args) if args.command == "keygen" else _sign(args)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
