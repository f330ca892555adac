"""Pure domain logic of the audit log (no database, no framework): Merkle tree and checkpoints."""
