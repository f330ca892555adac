"""Proof generation from the perfect-subtree store, checked against a naive RFC 6962 reference."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pytest
from audit.domain.merkle import (
    EMPTY_ROOT,
    ConsistencyProofError,
    InclusionProofError,
    InMemoryNodeStore,
    MerkleTree,
    MissingNodeError,
    NodeKey,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

# The RFC 6962 test leaves used by certificate-transparency and transparency-dev, and the
# published roots of their prefixes (size 1..8).
RFC_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
RFC_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


# --- naive reference: RFC 6962 §2.1 definitions, transcribed recursively -------------------


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def naive_mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(naive_mth(leaves[:k]), naive_mth(leaves[k:]))


def naive_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return naive_path(m, leaves[:k]) + [naive_mth(leaves[k:])]
    return naive_path(m - k, leaves[k:]) + [naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [naive_mth(leaves)]
    k = _split(n)
    if m <= k:
        return naive_subproof(m, leaves[:k], complete) + [naive_mth(leaves[k:])]
    return naive_subproof(m - k, leaves[k:], False) + [naive_mth(leaves[:k])]


def naive_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return naive_subproof(m, leaves, True) if 0 < m < len(leaves) else []


# --- helpers -------------------------------------------------------------------------------


def _leaves(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"entry-{salt}-{i}".encode()) for i in range(n)]


def _tree(leaves: Sequence[bytes]) -> MerkleTree:
    tree = MerkleTree()
    tree.append(leaves)
    return tree


class CountingStore(InMemoryNodeStore):
    """Records each get_many call so tests can check the O(log n), single-batch read pattern."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[NodeKey]] = []

    def get_many(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        self.calls.append(list(keys))
        return super().get_many(keys)


# --- known values --------------------------------------------------------------------------


def test_hashing_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


def test_rfc6962_known_roots() -> None:
    tree = _tree([leaf_hash(d) for d in RFC_LEAVES])
    assert tree.root(0) == EMPTY_ROOT
    for size, want in enumerate(RFC_ROOTS, start=1):
        assert tree.root(size) == want, f"size {size}"


# --- exhaustive small trees ----------------------------------------------------------------


def test_all_proofs_up_to_size_40_match_reference_and_verify() -> None:
    leaves = _leaves(40)
    tree = _tree(leaves)
    for size in range(41):
        assert tree.root(size) == naive_mth(leaves[:size])
    for size in range(1, 41):
        r = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == naive_path(index, leaves[:size]), (index, size)
            verify_inclusion(leaves[index], index, size, proof, r)
        for size1 in range(size + 1):
            proof = tree.consistency_proof(size1, size)
            assert proof == naive_proof(size1, leaves[:size]), (size1, size)
            verify_consistency(size1, size, proof, tree.root(size1), r)


# --- property tests ------------------------------------------------------------------------

SHARED_LEAVES = _leaves(600, salt=1)
SHARED_TREE = _tree(SHARED_LEAVES)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(0, 600))
def test_root_equals_naive_mth(size: int) -> None:
    assert SHARED_TREE.root(size) == naive_mth(SHARED_LEAVES[:size])


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_inclusion_proofs_verify(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 600))
    index = data.draw(st.integers(0, size - 1))
    proof = SHARED_TREE.inclusion_proof(index, size)
    assert proof == naive_path(index, SHARED_LEAVES[:size])
    r = SHARED_TREE.root(size)
    verify_inclusion(SHARED_LEAVES[index], index, size, proof, r)
    # Any other leaf, or the right leaf at another index, must be rejected.
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaf_hash(b"forged"), index, size, proof, r)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
        with pytest.raises(InclusionProofError):
            verify_inclusion(SHARED_LEAVES[index], other, size, proof, r)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_consistency_proofs_verify(data: st.DataObject) -> None:
    size2 = data.draw(st.integers(0, 600))
    size1 = data.draw(st.integers(0, size2))
    proof = SHARED_TREE.consistency_proof(size1, size2)
    assert proof == naive_proof(size1, SHARED_LEAVES[:size2])
    root1, root2 = SHARED_TREE.root(size1), SHARED_TREE.root(size2)
    verify_consistency(size1, size2, proof, root1, root2)
    if proof:
        # Flip one bit of one proof hash: must fail.
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        with pytest.raises(ConsistencyProofError):
            verify_consistency(size1, size2, bad, root1, root2)


@settings(max_examples=50, deadline=None)
@given(batches=st.lists(st.integers(0, 70), max_size=8))
def test_batched_appends_equal_one_big_append(batches: list[int]) -> None:
    total = sum(batches)
    leaves = _leaves(total, salt=2)
    one = _tree(leaves)
    many = MerkleTree()
    pos = 0
    for n in batches:
        many.append(leaves[pos : pos + n])
        pos += n
    assert many.size == one.size == total
    for size in range(total + 1):
        assert many.root(size) == one.root(size) == naive_mth(leaves[:size])
    assert root_from_leaf_hashes(leaves) == (total, naive_mth(leaves))


# --- storage behaviour ---------------------------------------------------------------------


def test_append_returns_leaf_and_completed_subtrees() -> None:
    store = InMemoryNodeStore()
    leaves = _leaves(4)
    nodes = append_leaves(store, 0, leaves)
    assert [k for k, _ in nodes] == [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0)]
    store.put_many(nodes)
    # Appending leaf 7 to a tree of 7 completes (1, 3) and (2, 1) and (3, 0).
    more = _leaves(8)[4:7]
    store.put_many(append_leaves(store, 4, more))
    new = append_leaves(store, 7, [_leaves(8)[7]])
    assert [k for k, _ in new] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert dict(new)[(3, 0)] == naive_mth(_leaves(8))


def test_reads_are_one_batch_of_log_n_keys() -> None:
    store = CountingStore()
    n = 1000
    store.put_many(append_leaves(store, 0, _leaves(n)))
    for op in (
        lambda: root(store, 999),
        lambda: inclusion_proof(store, 123, 999),
        lambda: consistency_proof(store, 333, 999),
        lambda: append_leaves(store, 999, [leaf_hash(b"x")]),
    ):
        store.calls.clear()
        op()
        assert len(store.calls) == 1, "each operation must read the store exactly once"
        assert len(store.calls[0]) <= 2 * n.bit_length() + 2


def test_store_refuses_to_rewrite_history() -> None:
    store = InMemoryNodeStore()
    store.put_many(append_leaves(store, 0, _leaves(3)))
    store.put_many([((0, 1), _leaves(3)[1])])  # identical re-write is a harmless no-op
    with pytest.raises(ValueError, match="different hash"):
        store.put_many([((0, 1), leaf_hash(b"evil"))])
    with pytest.raises(ValueError, match="gap"):
        store.put_many([((0, 5), leaf_hash(b"later"))])
    assert store.leaf_count() == 3


def test_missing_nodes_are_reported() -> None:
    tree = _tree(_leaves(5))
    with pytest.raises(MissingNodeError):
        root(tree.store, 9)
    with pytest.raises(ValueError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError):
        tree.consistency_proof(4, 3)


def test_verification_messages() -> None:
    tree = _tree(_leaves(8))
    proof = tree.inclusion_proof(5, 8)
    with pytest.raises(InclusionProofError, match="not inside a tree of size 8"):
        verify_inclusion(_leaves(8)[5], 8, 8, proof, tree.root())
    with pytest.raises(InclusionProofError, match="proof has 4 hashes, expected 3"):
        verify_inclusion(_leaves(8)[5], 5, 8, proof + proof[:1], tree.root())
    with pytest.raises(InclusionProofError, match="32-byte"):
        verify_inclusion(b"short", 5, 8, proof, tree.root())
    with pytest.raises(ConsistencyProofError, match="forked history"):
        verify_consistency(8, 8, [], tree.root(8), tree.root(7))
    with pytest.raises(ConsistencyProofError, match="backwards"):
        verify_consistency(8, 7, [], tree.root(8), tree.root(7))
