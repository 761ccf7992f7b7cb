"""The tree hashing and proofs are RFC 9162's: published vectors and random trees."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fancampaign.ledger import merkle
from fancampaign.ledger.verifier import verify_consistency, verify_inclusion

# The reference leaves and tree heads of Certificate Transparency's test suite, as published
# by the transparency-dev Merkle library (testonly/constants.go, proof/verify_test.go).
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof)
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
# (first size, second size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


@pytest.fixture(scope="module")
def reference() -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(data) for data in LEAF_INPUTS)


def test_leaf_and_node_hashes_use_the_rfc_prefixes() -> None:
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_tree_heads_match_the_published_roots(reference: merkle.MemoryTree, size: int) -> None:
    assert reference.root(size).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_proofs_match_the_published_ones(
    reference: merkle.MemoryTree, index: int, size: int, expected: list[str]
) -> None:
    proof = merkle.inclusion_proof(reference.node, index, size)
    assert [p.hex() for p in proof] == expected
    leaf = merkle.leaf_hash(LEAF_INPUTS[index])
    assert verify_inclusion(index, size, leaf, proof, reference.root(size))


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_consistency_proofs_match_the_published_ones(
    reference: merkle.MemoryTree, first: int, second: int, expected: list[str]
) -> None:
    proof = merkle.consistency_proof(reference.node, first, second)
    assert [p.hex() for p in proof] == expected
    assert verify_consistency(first, second, reference.root(first), reference.root(second), proof)


def _flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 8]) + value[1:]


def test_a_corrupted_inclusion_proof_fails(reference: merkle.MemoryTree) -> None:
    root, leaf = reference.root(8), merkle.leaf_hash(LEAF_INPUTS[5])
    proof = merkle.inclusion_proof(reference.node, 5, 8)
    assert verify_inclusion(5, 8, leaf, proof, root)
    assert not verify_inclusion(4, 8, leaf, proof, root)
    assert not verify_inclusion(5, 16, leaf, proof, root)
    assert not verify_inclusion(5, 8, _flip(leaf), proof, root)
    assert not verify_inclusion(5, 8, leaf, proof[:-1], root)
    assert not verify_inclusion(5, 8, leaf, [*proof, root], root)
    for i in range(len(proof)):
        assert not verify_inclusion(
            5, 8, leaf, [*proof[:i], _flip(proof[i]), *proof[i + 1 :]], root
        )


def test_a_corrupted_consistency_proof_fails(reference: merkle.MemoryTree) -> None:
    r6, r8 = reference.root(6), reference.root(8)
    proof = merkle.consistency_proof(reference.node, 6, 8)
    assert not verify_consistency(5, 8, r6, r8, proof)
    assert not verify_consistency(6, 8, r8, r6, proof)
    assert not verify_consistency(6, 8, r6, r8, [])
    assert not verify_consistency(6, 8, r6, r8, proof[:-1])
    assert not verify_consistency(6, 8, r6, r8, [*proof, r8])
    for i in range(len(proof)):
        assert not verify_consistency(6, 8, r6, r8, [*proof[:i], _flip(proof[i]), *proof[i + 1 :]])


def _naive_root(leaves: list[bytes]) -> bytes:
    # RFC 9162 2.1.1 read literally, on a list.
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_naive_root(leaves[:k]), _naive_root(leaves[k:]))


trees = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None)
@given(trees, st.data())
def test_inclusion_proofs_verify_for_random_trees(inputs: list[bytes], data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(x) for x in inputs]
    tree = merkle.MemoryTree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    head = tree.root(size)
    assert head == _naive_root(leaves[:size])
    proof = merkle.inclusion_proof(tree.node, index, size)
    assert verify_inclusion(index, size, leaves[index], proof, head)
    other = data.draw(st.integers(0, size - 1))
    if leaves[other] != leaves[index]:
        assert not verify_inclusion(index, size, leaves[other], proof, head)


@settings(max_examples=60, deadline=None)
@given(trees, st.data())
def test_consistency_proofs_verify_for_random_trees(
    inputs: list[bytes], data: st.DataObject
) -> None:
    leaves = [merkle.leaf_hash(x) for x in inputs]
    tree = merkle.MemoryTree(leaves)
    second = data.draw(st.integers(1, len(leaves)))
    first = data.draw(st.integers(1, second))
    proof = merkle.consistency_proof(tree.node, first, second)
    assert verify_consistency(first, second, tree.root(first), tree.root(second), proof)
    if first < second:
        # A rewritten entry inside the old tree breaks the proof.
        changed = data.draw(st.integers(0, first - 1))
        forged = [*leaves[:changed], _flip(leaves[changed]), *leaves[changed + 1 :]]
        forged_tree = merkle.MemoryTree(forged)
        assert not verify_consistency(
            first,
            second,
            tree.root(first),
            forged_tree.root(second),
            merkle.consistency_proof(forged_tree.node, first, second),
        )


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 300), st.integers(1, 40))
def test_appending_builds_on_the_frontier_only(size: int, more: int) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size + more)]
    whole = merkle.MemoryTree(leaves)
    old = merkle.MemoryTree(leaves[:size])
    edge = merkle.frontier(size)

    def stored(level: int, index: int) -> bytes:
        assert (level, index) in edge, "read a node off the frontier"
        return old.node(level, index)

    for level, index, value in merkle.complete_nodes(size, leaves[size:], stored):
        assert whole.node(level, index) == value


def test_plan_names_the_nodes_a_proof_reads(reference: merkle.MemoryTree) -> None:
    wanted = merkle.plan(lambda node: merkle.inclusion_proof(node, 5, 7))
    assert wanted == {(0, 4), (0, 6), (2, 0)}
    assert merkle.plan(lambda node: merkle.root(node, 8)) == {(3, 0)}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200))
def test_the_verifier_rebuilds_every_tree_head_leaf_by_leaf(size: int) -> None:
    from fancampaign.ledger.verifier import TreeBuilder

    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    whole, builder = merkle.MemoryTree(leaves), TreeBuilder()
    assert builder.root() == merkle.EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        builder.append(leaf)
        assert builder.root() == whole.root(n)
