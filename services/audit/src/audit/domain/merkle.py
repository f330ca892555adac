"""RFC 6962 / RFC 9162 Merkle tree for the tamper-evident audit log.

Why a Merkle tree: a signed checkpoint commits to (size, root). Anyone holding it can later be
convinced, with a logarithmic proof, that an entry is in the log (inclusion) and that a newer
checkpoint extends an older one without rewriting history (consistency).

Hashing (RFC 6962 §2.1), with domain separation so a leaf can never be passed off as a node:
    leaf_hash(d)   = SHA-256(0x00 || d)
    node_hash(l,r) = SHA-256(0x01 || l || r)
    empty root     = SHA-256("")

Storage model. We store the hash of every *perfect* subtree, keyed (level, index): level 0 holds
the leaf hashes and node (level, i) covers leaves [i * 2**level, (i + 1) * 2**level). Perfect
subtrees never change once complete, so the store is append-only, and any RFC 6962 subtree of a
tree of size n (including the "ephemeral" right-edge nodes of a tree whose size is not a power of
two) is the right fold of at most log2(n) stored perfect subtrees. That makes root(size),
inclusion_proof and consistency_proof O(log n) reads for *any* historical size <= n, which is what
lets the API answer proofs against old checkpoints.

Every read path first computes the list of (level, index) keys it needs and asks the store once
(`NodeStore.get_many`) so a database adapter answers with a single query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

HASH_SIZE = 32

NodeKey = tuple[int, int]
"""(level, index): level 0 = leaves; covers leaves [index << level, (index + 1) << level)."""

Node = tuple[NodeKey, bytes]
"""A stored perfect subtree: its key and its 32-byte hash."""


def leaf_hash(data: bytes) -> bytes:
    """Hash of a log entry's bytes (RFC 6962 MTH of a one-element list)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node from its two children."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the tree with no leaves."""


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ProofError(ValueError):
    """A proof failed to verify (or was malformed). The message says why, for humans."""


class InclusionProofError(ProofError):
    """An inclusion proof failed to verify."""


class ConsistencyProofError(ProofError):
    """A consistency proof failed to verify."""


class MissingNodeError(LookupError):
    """The node store lacks a node the tree size implies exists (store is corrupt or behind)."""


# --------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2) - needs no store, used by clients and the CLI
# --------------------------------------------------------------------------------------------


def _check_hash(what: str, value: bytes) -> None:
    # Length checks matter: without them an empty leaf and an empty root would "match".
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{what} must be a {HASH_SIZE}-byte SHA-256 hash, got {size}")


def _check_proof(cls: type[ProofError], proof: Sequence[bytes], want: int) -> None:
    if len(proof) != want:
        raise cls(f"proof has {len(proof)} hashes, expected {want} for these tree sizes")
    for i, h in enumerate(proof):
        try:
            _check_hash(f"proof hash {i}", h)
        except ProofError as exc:
            raise cls(str(exc)) from None


def _inclusion_length(index: int, size: int) -> int:
    # Levels below `inner` are where the paths to `index` and to the last leaf still differ:
    # one sibling each. Above that the leaf sits on the right edge: a sibling only where the
    # node is a right child (its left sibling is a complete subtree).
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that `leaf` (a leaf *hash*) is entry `index` of the tree of `size` with `root`.

    Returns None on success; raises InclusionProofError with the reason otherwise.
    """
    try:
        _check_hash("leaf hash", leaf)
        _check_hash("root hash", root)
    except ProofError as exc:
        raise InclusionProofError(str(exc)) from None
    if index < 0 or size <= 0 or index >= size:
        raise InclusionProofError(f"leaf index {index} is not inside a tree of size {size}")
    _check_proof(InclusionProofError, proof, _inclusion_length(index, size))

    # RFC 9162 §2.1.3.2, verbatim in spirit: fn walks the leaf's position up the tree, sn the
    # last leaf's; when they meet (fn == sn) we are on the right edge and levels with no
    # sibling are skipped.
    fn, sn, r = index, size - 1, bytes(leaf)
    for p in proof:
        if sn == 0:
            raise InclusionProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionProofError("proof is shorter than the path to the root")
    if r != root:
        raise InclusionProofError(
            f"proof does not lead to the expected root (computed {r.hex()}, expected {bytes(root).hex()})"
        )


def _consistency_length(size1: int, size2: int) -> int:
    # The proof is the inclusion path, in tree size2, of the largest perfect subtree that ends
    # at size1, preceded by that subtree itself unless it is the whole old tree (size1 a power
    # of two: the verifier already knows it as root1).
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    return _inclusion_length(index, ((size2 - 1) >> level) + 1) + (1 if index else 0)


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of (size2, root2) is an append-only extension of (size1, root1).

    Returns None on success; raises ConsistencyProofError with the reason otherwise.
    """
    try:
        _check_hash("old root hash", root1)
        _check_hash("new root hash", root2)
    except ProofError as exc:
        raise ConsistencyProofError(str(exc)) from None
    if size1 < 0 or size2 < 0:
        raise ConsistencyProofError("tree sizes must not be negative")
    if size2 < size1:
        raise ConsistencyProofError(f"tree size goes backwards ({size1} -> {size2})")
    if size1 == size2:
        _check_proof(ConsistencyProofError, proof, 0)
        if root1 != root2:
            raise ConsistencyProofError(f"forked history: two different roots for tree size {size1}")
        return
    if size1 == 0:
        # Every tree extends the empty tree; there is nothing to prove except that root1 really
        # is the empty root (a size-0 checkpoint with another root is bogus).
        _check_proof(ConsistencyProofError, proof, 0)
        if root1 != EMPTY_ROOT:
            raise ConsistencyProofError("old root is not the empty-tree root for size 0")
        return
    _check_proof(ConsistencyProofError, proof, _consistency_length(size1, size2))

    # RFC 9162 §2.1.4.2. fr rebuilds the old root and sr the new root from the same path.
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyProofError("proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyProofError("proof is shorter than needed")
    if fr != root1:
        raise ConsistencyProofError(f"proof does not reproduce the old root for size {size1}")
    if sr != root2:
        raise ConsistencyProofError(f"proof does not reproduce the new root for size {size2}")


# --------------------------------------------------------------------------------------------
# Node store
# --------------------------------------------------------------------------------------------


class NodeStore(Protocol):
    """Read side of the perfect-subtree store (what proof generation needs)."""

    def get_many(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """Return the hashes of the requested nodes; absent nodes are simply left out."""
        ...


class WritableNodeStore(NodeStore, Protocol):
    """A store that can also persist new nodes (the in-memory store; a DB adapter may differ)."""

    def put_many(self, nodes: Iterable[Node]) -> None:
        """Persist nodes. Overwriting a node with a different hash must fail."""
        ...


class InMemoryNodeStore:
    """Append-only in-memory NodeStore: one bytearray of concatenated 32-byte hashes per level.

    Nodes of one level are always created left to right, so a level is a dense array; this
    costs ~32 bytes per node instead of a dict entry per node (a million leaves fit in ~64 MB).
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = []

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        out: dict[NodeKey, bytes] = {}
        for level, index in keys:
            if 0 <= level < len(self._levels) and index >= 0:
                start = index * HASH_SIZE
                value = self._levels[level][start : start + HASH_SIZE]
                if len(value) == HASH_SIZE:
                    out[(level, index)] = bytes(value)
        return out

    def put_many(self, nodes: Iterable[Node]) -> None:
        levels = self._levels
        for (level, index), value in nodes:
            if len(value) != HASH_SIZE:
                raise ValueError(f"node ({level}, {index}) is not a {HASH_SIZE}-byte hash")
            while len(levels) <= level:
                levels.append(bytearray())
            row = levels[level]
            start = index * HASH_SIZE
            if start == len(row):
                row += value
            elif start < len(row):
                # Re-writing an existing node is only allowed as a no-op: history is immutable.
                if row[start : start + HASH_SIZE] != value:
                    raise ValueError(f"node ({level}, {index}) already stored with a different hash")
            else:
                raise ValueError(f"node ({level}, {index}) would leave a gap in level {level}")

    def leaf_count(self) -> int:
        """Number of leaves stored (the tree size this store can serve up to)."""
        return len(self._levels[0]) // HASH_SIZE if self._levels else 0


# --------------------------------------------------------------------------------------------
# Which stored nodes an answer needs
# --------------------------------------------------------------------------------------------

Span = list[NodeKey]
"""Perfect subtrees, left to right, whose right fold is the hash of one RFC 6962 subtree."""


def _range_keys(start: int, end: int) -> Span:
    """Perfect subtrees covering leaves [start, end), left to right, largest first.

    For the ranges RFC 6962 uses ([0, n), or a 2**k-aligned window cut off at n) the right fold
    of these subtrees is exactly MTH(D[start:end]), because MTH splits off the largest power of
    two on the left, which is the first of these subtrees, and recurses on the rest.
    """
    keys: Span = []
    while start < end:
        level = (end - start).bit_length() - 1  # the biggest subtree that fits ...
        if start:
            level = min(level, (start & -start).bit_length() - 1)  # ... and is aligned at start
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _path_spans(level: int, index: int, size: int) -> list[Span]:
    """Sibling subtrees on the path from node (level, index) to the root of a tree of `size`.

    Bottom-up order, as RFC 9162 verification consumes them. Only the sibling at level
    `inner - 1` can be an incomplete (ephemeral) right-edge node; it becomes a multi-key span.
    """
    spans: list[Span] = []
    last = (size - 1) >> level
    inner = (index ^ last).bit_length()
    for r in range(inner):
        lvl = level + r
        start = ((index >> r) ^ 1) << lvl
        spans.append(_range_keys(start, min(start + (1 << lvl), size)))
    node, lvl = index >> inner, level + inner
    while node:  # right edge: only left siblings exist, and they are complete
        if node & 1:
            spans.append([(lvl, node ^ 1)])
        node >>= 1
        lvl += 1
    return spans


def _consistency_spans(size1: int, size2: int) -> list[Span]:
    # The largest perfect subtree ending at size1, then its inclusion path in tree size2 (see
    # _consistency_length). Caller guarantees 0 < size1 < size2.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    spans = _path_spans(level, index, size2)
    return spans if index == 0 else [[(level, index)], *spans]


def _fold(hashes: Sequence[bytes]) -> bytes:
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def _resolve(store: NodeStore, spans: Sequence[Span]) -> list[bytes]:
    """Fetch every key of every span in one get_many call, then fold each span."""
    keys = list(dict.fromkeys(k for span in spans for k in span))
    found = store.get_many(keys) if keys else {}
    missing = [k for k in keys if k not in found]
    if missing:
        raise MissingNodeError(f"node store lacks {len(missing)} node(s), first {missing[0]}")
    return [_fold([found[k] for k in span]) for span in spans]


# --------------------------------------------------------------------------------------------
# Reading: root and proofs for any tree size the store covers
# --------------------------------------------------------------------------------------------


def root(store: NodeStore, size: int) -> bytes:
    """RFC 6962 MTH of the first `size` leaves (O(log size) nodes read in one call)."""
    if size < 0:
        raise ValueError("tree size must not be negative")
    if size == 0:
        return EMPTY_ROOT
    return _resolve(store, [_range_keys(0, size)])[0]


def inclusion_proof(store: NodeStore, index: int, size: int) -> list[bytes]:
    """Audit path for leaf `index` in the tree of `size` (RFC 9162 §2.1.3.1), bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
    return _resolve(store, _path_spans(0, index, size))


def inclusion_proof_keys(index: int, size: int) -> list[NodeKey]:
    """The stored nodes `inclusion_proof(store, index, size)` reads, so that a caller answering
    many proofs at once can fetch the nodes of all of them in one query first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
    return [k for span in _path_spans(0, index, size) for k in span]


def consistency_proof(store: NodeStore, size1: int, size2: int) -> list[bytes]:
    """Proof that tree size2 extends tree size1 (RFC 9162 §2.1.4.1)."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"need 0 <= size1 <= size2, got {size1}, {size2}")
    if size1 == 0 or size1 == size2:
        return []
    return _resolve(store, _consistency_spans(size1, size2))


# --------------------------------------------------------------------------------------------
# Writing: appending leaves
# --------------------------------------------------------------------------------------------


def append_leaves(store: NodeStore, start_size: int, leaf_hashes: Iterable[bytes]) -> list[Node]:
    """Compute the nodes created by appending `leaf_hashes` to a tree of `start_size` leaves.

    Reads the O(log n) perfect subtrees forming the current right edge (one get_many call) and
    returns every new node - each leaf at level 0 plus each perfect subtree it completes - in
    creation order. It does not write: the caller persists the returned nodes, ideally in the
    same transaction that records the entries and the new size, so a DB adapter can insert
    them in one statement.
    """
    frontier = _range_keys(0, start_size)
    # Each stack element is the hash of one perfect subtree of the right edge, largest first;
    # the levels are implied by the binary representation of the current size.
    stack = _resolve(store, [[k] for k in frontier]) if frontier else []
    new: list[Node] = []
    n = start_size
    for h in leaf_hashes:
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf {n}: not a {HASH_SIZE}-byte hash")
        h = bytes(h)
        new.append(((0, n), h))
        level, index = 0, n
        # A node with an odd index is a right child: together with the left sibling on top of
        # the stack it completes its parent. Repeat up the tree (amortised O(1) per leaf).
        while index & 1:
            h = node_hash(stack.pop(), h)
            level += 1
            index >>= 1
            new.append(((level, index), h))
        stack.append(h)
        n += 1
    return new


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> tuple[int, bytes]:
    """Stream leaf hashes and return (size, root) without storing the tree (O(log n) memory).

    Used to re-verify a whole exported log against a checkpoint.
    """
    stack: list[bytes] = []
    n = 0
    for h in leaf_hashes:
        index = n
        while index & 1:
            h = node_hash(stack.pop(), h)
            index >>= 1
        stack.append(h)
        n += 1
    return n, (_fold(stack) if stack else EMPTY_ROOT)


class MerkleTree:
    """Convenience wrapper: a writable store plus its current size.

    The service keeps the size in its own table; this class is for tests, benchmarks and tools.
    """

    def __init__(self, store: WritableNodeStore | None = None, size: int = 0) -> None:
        self.store: WritableNodeStore = store if store is not None else InMemoryNodeStore()
        self.size = size

    def append(self, leaf_hashes: Iterable[bytes]) -> list[Node]:
        nodes = append_leaves(self.store, self.size, leaf_hashes)
        self.store.put_many(nodes)
        self.size += sum(1 for (level, _), _h in nodes if level == 0)
        return nodes

    def append_data(self, entries: Iterable[bytes]) -> list[Node]:
        return self.append(leaf_hash(e) for e in entries)

    def root(self, size: int | None = None) -> bytes:
        return root(self.store, self.size if size is None else self._check(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self.store, index, self.size if size is None else self._check(size))

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        return consistency_proof(self.store, size1, self.size if size2 is None else self._check(size2))

    def _check(self, size: int) -> int:
        if size > self.size:
            raise ValueError(f"tree size {size} is larger than the current size {self.size}")
        return size
