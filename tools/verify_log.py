"""Check a fancampaign petition's signature log from outside the site.

This file depends on the Python standard library and `cryptography` only, so that anyone can
run it without trusting (or installing) the site's code: it is also shipped as
tools/verify_log.py, and `fancampaign verify-log URL` runs the same code.

    python verify_log.py https://example.org/petitions/some-petition [--key key.pem]

It fetches the petition's signed checkpoints, checks every signature against the site's
Ed25519 key, checks that each checkpoint's tree extends the previous one (RFC 9162
consistency proofs), rebuilds the tree from every leaf and recounts it (each checkpoint's
root and standing count must follow from its leaves; --quick skips this), and checks that
the count the petition page and the API show equals the standing count (additions -
withdrawals) of the latest checkpoint. Exit status 0 when
everything holds, 1 with a message naming the first thing that does not.

The tree hashing and the two proof checks below are RFC 9162 section 2.1 (leaf hash
SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right), inclusion verification
2.1.3.2, consistency verification 2.1.4.2); the site computes its trees with the same
functions.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
CHECKPOINT_HEADER = "fancampaign petition log checkpoint v1"
USER_AGENT = "fancampaign-verify-log/1"


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 MTH of one entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: is `leaf` the entry at `index` of the tree of `size` with `root`?"""
    if index < 0 or index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does the tree of `second` entries extend the one of `first`?"""
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is a node of the new
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def checkpoint_text(
    petition_id: int, size: int, root: bytes, standing: int, made_at: str, event: str
) -> bytes:
    """The exact bytes a checkpoint's Ed25519 signature covers."""
    return (
        f"{CHECKPOINT_HEADER}\n"
        f"petition {petition_id}\n"
        f"size {size}\n"
        f"root {root.hex()}\n"
        f"standing {standing}\n"
        f"time {made_at}\n"
        f"event {event}\n"
    ).encode()


# Checking a site ---------------------------------------------------------------------------


class VerificationFailed(Exception):
    """The log does not check out; the message says what and where."""


def _get(url: str, *, accept: str = "application/json") -> bytes:
    request = urllib.request.Request(  # noqa: S310  (the user names the site to check)
        url, headers={"Accept": accept, "User-Agent": USER_AGENT}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.read()
    except urllib.error.HTTPError as err:
        raise VerificationFailed(f"{url} answered HTTP {err.code}.") from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise VerificationFailed(f"Cannot fetch {url}: {err}.") from err


def _get_json(url: str) -> Any:
    try:
        return json.loads(_get(url))
    except ValueError as err:
        raise VerificationFailed(f"{url} did not answer JSON.") from err


def _split_petition_url(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    match = re.fullmatch(r"(.*?)/petitions/([A-Za-z0-9_-]+)(?:/.*)?", parts.path)
    if parts.scheme not in ("http", "https") or not parts.netloc or not match:
        raise VerificationFailed(
            "Give the petition's address, like https://example.org/petitions/its-slug"
        )
    site = f"{parts.scheme}://{parts.netloc}{match.group(1)}"
    return site, match.group(2)


def load_public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem)
    except ValueError as err:
        raise VerificationFailed("The log key is not a PEM public key.") from err
    if not isinstance(key, Ed25519PublicKey):
        raise VerificationFailed("The log key is not an Ed25519 key.")
    return key


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise VerificationFailed(f"{what} is not a 64-digit hex hash.")
    return bytes.fromhex(value)


def check_signature(key: Any, petition_id: int, item: dict[str, Any]) -> None:
    """Raise VerificationFailed unless the checkpoint's signature is the site key's."""
    from cryptography.exceptions import InvalidSignature

    number = item.get("number")
    try:
        text = checkpoint_text(
            petition_id,
            int(item["tree_size"]),
            _hex(item["root_hash"], "root_hash"),
            int(item["standing_count"]),
            str(item["created_at"]),
            str(item["event"]),
        )
        signature = base64.b64decode(item["signature"], validate=True)
        key.verify(signature, text)
    except (KeyError, TypeError, ValueError) as err:
        raise VerificationFailed(f"Checkpoint {number} is malformed: {err}.") from err
    except InvalidSignature as err:
        raise VerificationFailed(
            f"Checkpoint {number}: the signature does not match its contents "
            "(altered, or not signed by this site's key)."
        ) from err


def fetch_checkpoints(site: str, slug: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first page's envelope and every checkpoint, oldest first."""
    url: str | None = f"{site}/api/v1/petitions/{slug}/checkpoints?limit=100"
    first: dict[str, Any] | None = None
    items: list[dict[str, Any]] = []
    while url:
        page = _get_json(url)
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise VerificationFailed(f"{url} is not a list of checkpoints.")
        first = first or page
        items.extend(page["items"])
        url = page.get("next")
    assert first is not None
    return first, items


class TreeBuilder:
    """RFC 9162 tree heads of a log read leaf by leaf, in O(log n) memory: the complete
    subtrees on the right edge, merged as they fill."""

    def __init__(self) -> None:
        self.edge: list[tuple[int, bytes]] = []  # (level, hash), left to right
        self.size = 0

    def append(self, leaf: bytes) -> None:
        level, value = 0, leaf
        while self.edge and self.edge[-1][0] == level:
            value = node_hash(self.edge.pop()[1], value)
            level += 1
        self.edge.append((level, value))
        self.size += 1

    def root(self) -> bytes:
        if not self.edge:
            return EMPTY_ROOT
        value = self.edge[-1][1]
        for _level, left in reversed(self.edge[:-1]):
            value = node_hash(left, value)
        return value


def audit_leaves(site: str, slug: str, checkpoints: list[dict[str, Any]]) -> None:
    """Rebuild the tree from every leaf and recount it: each checkpoint's root and standing
    count must be what its first tree_size leaves give, each leaf hash what its contents
    give, and each withdrawal must take back one earlier, not yet withdrawn, addition."""
    at_size: dict[int, list[dict[str, Any]]] = {}
    for item in checkpoints:
        at_size.setdefault(int(item["tree_size"]), []).append(item)
    end = int(checkpoints[-1]["tree_size"])
    tree, standing = TreeBuilder(), 0
    added: dict[int, bytes] = {}
    withdrawn: set[int] = set()

    def check_heads() -> None:
        for item in at_size.get(tree.size, ()):
            if tree.root() != _hex(item["root_hash"], "root_hash"):
                raise VerificationFailed(
                    f"Checkpoint {item['number']}: its first {tree.size} leaves do not hash to "
                    "its root: leaves were changed or removed."
                )
            if int(item["standing_count"]) != standing:
                raise VerificationFailed(
                    f"Checkpoint {item['number']} claims {item['standing_count']} signatures "
                    f"standing, but its leaves count {standing}."
                )

    check_heads()
    url: str | None = f"{site}/api/v1/petitions/{slug}/leaves?start=0&limit=1000"
    while url and tree.size < end:
        page = _get_json(url)
        for leaf in page.get("items", []):
            if tree.size >= end:
                break
            index = leaf.get("index")
            if index != tree.size:
                raise VerificationFailed(f"Leaf {tree.size} is missing from the log.")
            value = _hex(leaf.get("leaf_hash"), f"leaf {index}")
            if leaf.get("kind") == "add":
                expected = leaf_hash(b"add\x00" + _hex(leaf.get("commitment"), "a commitment"))
                added[index] = value
                standing += 1
            elif leaf.get("kind") == "withdraw":
                named = leaf.get("withdraws")
                if not isinstance(named, int) or named not in added or named in withdrawn:
                    raise VerificationFailed(
                        f"Leaf {index} withdraws leaf {named}, which is not a standing addition."
                    )
                expected = leaf_hash(b"withdraw\x00" + named.to_bytes(8, "big") + added[named])
                withdrawn.add(named)
                standing -= 1
            else:
                raise VerificationFailed(f"Leaf {index} is of no known kind.")
            if expected != value:
                raise VerificationFailed(f"Leaf {index}'s hash is not that of its contents.")
            tree.append(value)
            check_heads()
        url = page.get("next")
    if tree.size < end:
        raise VerificationFailed(
            f"The log lists {tree.size} leaves, but the latest checkpoint has {end}."
        )


def verify_site(
    url: str, *, key_pem: bytes | None = None, wait: bool = True, leaves: bool = True
) -> str:
    """Check the petition at `url`; a one-line summary, or raise VerificationFailed."""
    site, slug = _split_petition_url(url)
    key = load_public_key(key_pem or _get(f"{site}/.well-known/fancampaign-log-key", accept="*/*"))
    envelope, items = fetch_checkpoints(site, slug)
    if not items:
        raise VerificationFailed("The petition has no checkpoints.")
    petition_id = envelope.get("petition_id")
    if not isinstance(petition_id, int):
        raise VerificationFailed("The checkpoints do not name their petition.")
    previous: dict[str, Any] | None = None
    for item in items:
        check_signature(key, petition_id, item)
        if previous is not None:
            _check_extends(site, slug, previous, item)
        previous = item
    if leaves:
        audit_leaves(site, slug, items)
    latest = items[-1]
    shown = _shown_counts(site, slug)
    if wait and any(c != latest["standing_count"] for c in shown.values()):
        # Checkpoints are made at most once a minute: a count that moved since the latest one
        # is checked against the next.
        time.sleep(max(0, min(int(envelope.get("interval_seconds") or 60), 60)) + 1)
        return verify_site(url, key_pem=key_pem, wait=False, leaves=leaves)
    for where, count in shown.items():
        if count != latest["standing_count"]:
            raise VerificationFailed(
                f"The {where} shows {count} signatures, but the latest checkpoint "
                f"(number {latest['number']}, tree size {latest['tree_size']}) stands at "
                f"{latest['standing_count']}."
            )
    audited = "; every leaf rebuilt and recounted" if leaves else ""
    return (
        f"OK: {len(items)} checkpoint(s) signed and consistent{audited}; the latest has "
        f"{latest['tree_size']} entries standing at {latest['standing_count']} signatures, "
        f"as the petition page and the API show."
    )


def _check_extends(site: str, slug: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    first, second = int(old["tree_size"]), int(new["tree_size"])
    if second < first:
        raise VerificationFailed(
            f"Checkpoint {new['number']} has fewer entries ({second}) than checkpoint "
            f"{old['number']} ({first}): the log was rewritten."
        )
    answer = _get_json(f"{site}/api/v1/petitions/{slug}/consistency?from={first}&to={second}")
    proof = [_hex(h, "a consistency proof hash") for h in answer.get("proof", [])]
    old_root, new_root = _hex(old["root_hash"], "root_hash"), _hex(new["root_hash"], "root_hash")
    if not verify_consistency(first, second, old_root, new_root, proof):
        raise VerificationFailed(
            f"Checkpoint {new['number']} (size {second}) does not extend checkpoint "
            f"{old['number']} (size {first}): entries were changed or removed."
        )


_COUNT_RE = re.compile(r'data-signature-count="(\d+)"')


def _shown_counts(site: str, slug: str) -> dict[str, int]:
    api = _get_json(f"{site}/api/v1/petitions/{slug}")
    page = _get(f"{site}/petitions/{slug}", accept="text/html").decode("utf-8", "replace")
    match = _COUNT_RE.search(page)
    if not isinstance(api, dict) or not isinstance(api.get("signature_count"), int):
        raise VerificationFailed("The API does not give the petition's signature count.")
    if match is None:
        raise VerificationFailed("The petition page does not mark its signature count.")
    return {"API": api["signature_count"], "petition page": int(match.group(1))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a fancampaign petition's signature log.")
    parser.add_argument("url", help="the petition's address: https://site/petitions/<slug>")
    parser.add_argument("--key", help="the site's public key (PEM) to trust instead of fetching")
    parser.add_argument(
        "--no-wait", action="store_true", help="do not wait for the next checkpoint"
    )
    parser.add_argument(
        "--quick", action="store_true", help="skip rebuilding the tree from every leaf"
    )
    args = parser.parse_args(argv)
    try:
        key_pem = None
        if args.key:
            with open(args.key, "rb") as handle:
                key_pem = handle.read()
        print(verify_site(args.url, key_pem=key_pem, wait=not args.no_wait, leaves=not args.quick))
    except (VerificationFailed, OSError) as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
