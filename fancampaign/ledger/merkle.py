"""RFC 9162 Merkle trees over stored subtree hashes: tree heads and the two kinds of proof.

The algorithms are the RFC's (2.1.1 MTH, 2.1.3.1 PATH, 2.1.4.1 PROOF/SUBPROOF), written over
one primitive, `node(level, index)`: the hash of the complete subtree holding leaves
[index * 2**level, (index + 1) * 2**level). Every subtree those algorithms split off on the
left is such a complete subtree, so a log that stores its complete subtrees (level 0 being
the leaves) answers any head or proof from O(log n) stored hashes, however long it is.

`plan(...)` runs an algorithm once with placeholder hashes to learn which nodes it reads (the
shape of a proof depends only on the sizes), so the caller fetches them in one query and runs
it again on the real ones. The hashing and the verification side live in verifier.py, which
stands alone for people checking the log from outside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fancampaign.ledger.verifier import EMPTY_ROOT, leaf_hash, node_hash

Node = Callable[[int, int], bytes]
Key = tuple[int, int]

__all__ = [
    "EMPTY_ROOT",
    "complete_nodes",
    "consistency_proof",
    "frontier",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "plan",
    "root",
]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(node: Node, start: int, end: int) -> bytes:
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        return node(n.bit_length() - 1, start // n)
    k = _split(n)
    return node_hash(_mth(node, start, start + k), _mth(node, start + k, end))


def root(node: Node, size: int) -> bytes:
    """MTH of the first `size` leaves."""
    return EMPTY_ROOT if size == 0 else _mth(node, 0, size)


def _path(node: Node, m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m - start < k:
        return [*_path(node, m, start, start + k), _mth(node, start + k, end)]
    return [*_path(node, m, start + k, end), _mth(node, start, start + k)]


def inclusion_proof(node: Node, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]); raises ValueError outside the tree."""
    if not 0 <= index < size:
        raise ValueError("the leaf is not in a tree of that size")
    return _path(node, index, 0, size)


def _subproof(node: Node, m: int, start: int, end: int, whole: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [_mth(node, start, end)]
    k = _split(n)
    if m <= k:
        return [*_subproof(node, m, start, start + k, whole), _mth(node, start + k, end)]
    return [*_subproof(node, m - k, start + k, end, False), _mth(node, start, start + k)]


def consistency_proof(node: Node, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]); empty when there is nothing to prove (first 0 or equal)."""
    if not 0 <= first <= second:
        raise ValueError("the first tree must not be larger than the second")
    if first in (0, second):
        return []
    return _subproof(node, first, 0, second, True)


def plan(run: Callable[[Node], object]) -> set[Key]:
    """The (level, index) nodes `run` reads; it is called with placeholder hashes."""
    wanted: set[Key] = set()

    def record(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return EMPTY_ROOT

    run(record)
    return wanted


def complete_nodes(
    size: int, new_leaves: Iterable[bytes], node: Node
) -> Iterable[tuple[int, int, bytes]]:
    """The complete subtrees (level >= 1) that appending `new_leaves` to a tree of `size`
    leaves completes, as (level, index, hash), lowest first for each new leaf. `node` gives
    the stored ones they build on: the left edge of the old tree (see `frontier`)."""
    made: dict[Key, bytes] = {}

    def get(level: int, index: int) -> bytes:
        return made[(level, index)] if (level, index) in made else node(level, index)

    for position, leaf in enumerate(new_leaves, start=size):
        made[(0, position)] = leaf
        level, index = 0, position
        while index & 1:
            parent = node_hash(get(level, index - 1), get(level, index))
            level, index = level + 1, index >> 1
            made[(level, index)] = parent
            yield level, index, parent


def frontier(size: int) -> set[Key]:
    """The complete subtrees on the right edge of a tree of `size` leaves: what appending
    builds on (one per set bit of size)."""
    keys: set[Key] = set()
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.add((level, start >> level))
            start += 1 << level
    return keys


class MemoryTree:
    """A whole tree in memory: for tests and for checking a stored log against its leaves."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def append(self, leaf: bytes) -> None:
        size = len(self.levels[0])
        for level, index, value in complete_nodes(size, [leaf], self.node):
            while len(self.levels) <= level:
                self.levels.append([])
            assert len(self.levels[level]) == index
            self.levels[level].append(value)
        self.levels[0].append(leaf)

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def root(self, size: int | None = None) -> bytes:
        return root(self.node, self.size if size is None else size)
