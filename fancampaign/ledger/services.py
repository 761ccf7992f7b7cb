"""The petition log: appending entries, sequencing them into the tree, signed checkpoints, proofs.

Writing: `record_addition` / `record_withdrawal` add one row in the caller's transaction (the
one that confirms or removes the signature), so a signature and its entry commit or roll back
together; on PostgreSQL a member's signature carries its entry in its own statement
(`additions_from`). Nothing else happens while people sign.

Sequencing (`make_checkpoint`): under a lock on the petition's log row, the entries not yet in
the tree get the next leaf indexes in the order they were written, their leaf hashes, and the
complete subtrees they finish are stored (log_nodes). A tree head or proof then reads
O(log n) stored hashes (merkle.py), so a checkpoint costs the entries since the last one, not
the petition's size.

Checkpoints are made lazily: when the log page, the checkpoints API or a proof is read and the
log has unsequenced entries and the latest checkpoint is older than LOG_CHECKPOINT_INTERVAL
(60 s) — so there is at most one a minute while a petition changes and none while it does
not, without a worker having to run — and at once when the petition closes, is won or is
delivered (`make_checkpoint(petition, event)`, called by those services).

The site's Ed25519 key (LOG_SIGNING_KEY, see config.py) is configuration, read here from the
app like the database: the services that close a petition need not carry it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

from fancampaign.errors import DomainError, InvalidInput, NotFoundError
from fancampaign.extensions import db, utcnow
from fancampaign.ledger import merkle
from fancampaign.ledger.models import CHECKPOINT_EVENTS, Checkpoint, LogEntry, LogNode, PetitionLog
from fancampaign.ledger.verifier import checkpoint_text

ENTRIES = LogEntry.__table__
NODES = LogNode.__table__
LOGS = PetitionLog.__table__


def is_enabled() -> bool:
    """The log is on unless LOG_ENABLED is false (the signing benchmark compares both)."""
    return bool(current_app.config.get("LOG_ENABLED", True))


# Leaves --------------------------------------------------------------------------------------


def commitment(salt: bytes, petition_id: int, signature_id: int) -> bytes:
    """What an `add` leaf says about its signature: its ids, hashed under the petition's salt
    (no name, no email; without the salt nobody can tell which signature id it is)."""
    return hashlib.sha256(
        salt + petition_id.to_bytes(8, "big") + signature_id.to_bytes(8, "big")
    ).digest()


def add_leaf(salt: bytes, petition_id: int, signature_id: int) -> bytes:
    """The leaf hash of a counted signature."""
    return merkle.leaf_hash(b"add\x00" + commitment(salt, petition_id, signature_id))


def withdraw_leaf(added_index: int, added_hash: bytes) -> bytes:
    """The leaf hash of a withdrawal: it names the leaf it takes back."""
    return merkle.leaf_hash(b"withdraw\x00" + added_index.to_bytes(8, "big") + added_hash)


_SALT_KEY = "ledger_salts"


def _salt_column(petition_id: int) -> Any:
    return sa.select(LOGS.c.salt).where(LOGS.c.petition_id == petition_id).scalar_subquery()


def record_addition(petition_id: int, signature_id: int) -> None:
    """Append the `add` entry of a signature just counted, in the caller's transaction.

    The same statement brings back the petition's salt, kept for this session, so the
    receipt shown next costs no query of its own: signing pays one statement for the log.
    """
    if not is_enabled():
        return
    salt = db.session.scalar(
        sa.insert(ENTRIES)
        .values(petition_id=petition_id, kind="add", signature_id=signature_id, created_at=utcnow())
        .returning(_salt_column(petition_id))
    )
    remember_salt(petition_id, salt)


def additions_from(added: Any) -> tuple[Any, Any]:
    """For a signing statement that carries its own log entry (PostgreSQL's data-modifying
    CTEs): the INSERT of the `add` entries of the signatures in `added` (a CTE with `id` and
    `petition_id` columns: the rows that statement counted), and a column bringing back the
    petition's salt (bind parameter :petition_id) for `remember_salt`. Bind parameter
    :logged_at is the entries' time. The signature, its count and its entry are then one
    statement: they cannot commit or roll back apart."""
    entries = sa.insert(ENTRIES).from_select(
        ["petition_id", "kind", "signature_id", "created_at"],
        sa.select(
            added.c.petition_id,
            sa.literal("add"),
            added.c.id,
            sa.bindparam("logged_at", type_=LogEntry.created_at.type),
        ),
    )
    salt = (
        sa.select(LOGS.c.salt)
        .where(LOGS.c.petition_id == sa.bindparam("petition_id"))
        .scalar_subquery()
    )
    return entries, salt


def remember_salt(petition_id: int, salt: bytes | None) -> None:
    """Keep a salt a signing statement brought back, so the receipt costs no query."""
    if salt is not None:
        db.session.info.setdefault(_SALT_KEY, {})[petition_id] = salt


def record_withdrawal(petition_id: int, signature_id: int) -> None:
    """Append the `withdraw` entry of a counted signature just removed, naming its `add`."""
    if not is_enabled():
        return
    added = sa.select(ENTRIES.c.id).where(
        ENTRIES.c.petition_id == petition_id,
        ENTRIES.c.signature_id == signature_id,
        ENTRIES.c.kind == "add",
    )
    db.session.execute(
        sa.insert(ENTRIES).from_select(
            ["petition_id", "kind", "signature_id", "withdraws_id", "created_at"],
            sa.select(
                sa.literal(petition_id),
                sa.literal("withdraw"),
                sa.literal(signature_id),
                ENTRIES.c.id,
                sa.literal(utcnow(), LogEntry.created_at.type),
            ).where(ENTRIES.c.id == added.order_by(ENTRIES.c.id.desc()).limit(1).scalar_subquery()),
        )
    )


def record_existing(petition_id: int) -> int:
    """Append `add` entries for the petition's confirmed signatures that have none (rows
    bulk-loaded around the services: the demo's); how many."""
    if not is_enabled():
        return 0
    signatures = sa.table(
        "signatures", sa.column("id"), sa.column("petition_id"), sa.column("confirmed_at")
    )
    has_entry = (
        sa.select(ENTRIES.c.id)
        .where(ENTRIES.c.signature_id == signatures.c.id, ENTRIES.c.kind == "add")
        .exists()
    )
    result = db.session.execute(
        sa.insert(ENTRIES).from_select(
            ["petition_id", "kind", "signature_id", "created_at"],
            sa.select(
                signatures.c.petition_id,
                sa.literal("add"),
                signatures.c.id,
                signatures.c.confirmed_at,
            )
            .where(
                signatures.c.petition_id == petition_id,
                signatures.c.confirmed_at.is_not(None),
                ~has_entry,
            )
            .order_by(signatures.c.id),
        )
    )
    return result.rowcount


def _insert() -> Any:
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def salt_of(petition_id: int) -> bytes:
    """The petition's salt, made on first need (a race makes one: the first insert wins)."""
    known = db.session.info.get(_SALT_KEY, {}).get(petition_id)
    if known is not None:
        return known
    salt = db.session.scalar(sa.select(LOGS.c.salt).where(LOGS.c.petition_id == petition_id))
    if salt is None:
        db.session.execute(
            _insert()(LOGS)
            .values(petition_id=petition_id, salt=secrets.token_bytes(32), size=0, standing=0)
            .on_conflict_do_nothing()
        )
        salt = db.session.scalar(sa.select(LOGS.c.salt).where(LOGS.c.petition_id == petition_id))
    return salt


@dataclass(frozen=True)
class Receipt:
    leaf_hash: str
    leaf_index: int | None  # None until the next checkpoint places it


def receipt_hash(petition_id: int, signature_id: int) -> str | None:
    """The receipt of a signature (its `add` leaf hash, hex), or None with the log off."""
    if not is_enabled():
        return None
    return add_leaf(salt_of(petition_id), petition_id, signature_id).hex()


def receipt_text(petition_id: int, signature_id: int) -> str:
    """The sentence that hands a signer their receipt (page and mail), or "" with the log off."""
    receipt = receipt_hash(petition_id, signature_id)
    if receipt is None:
        return ""
    return (
        f"Your receipt: {receipt}. Keep it to check, on the petition's verify page, that your "
        "signature is in its public log."
    )


def receipt_for(petition_id: int, signature_id: int) -> Receipt:
    """What a signer keeps to check later that their signature is in the log."""
    index = db.session.scalar(
        sa.select(ENTRIES.c.leaf_index)
        .where(
            ENTRIES.c.petition_id == petition_id,
            ENTRIES.c.signature_id == signature_id,
            ENTRIES.c.kind == "add",
        )
        .order_by(ENTRIES.c.id.desc())
        .limit(1)
    )
    return Receipt(add_leaf(salt_of(petition_id), petition_id, signature_id).hex(), index)


# Sequencing ----------------------------------------------------------------------------------


def _nodes(petition_id: int, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Stored hashes of the given (level, index) complete subtrees, in two queries at most."""
    keys = set(keys)
    found: dict[tuple[int, int], bytes] = {}
    leaves = sorted(index for level, index in keys if level == 0)
    if leaves:
        rows = db.session.execute(
            sa.select(ENTRIES.c.leaf_index, ENTRIES.c.leaf_hash).where(
                ENTRIES.c.petition_id == petition_id, ENTRIES.c.leaf_index.in_(leaves)
            )
        )
        found.update({(0, index): value for index, value in rows})
    inner = sorted(key for key in keys if key[0] > 0)
    if inner:
        rows = db.session.execute(
            sa.select(NODES.c.level, NODES.c.idx, NODES.c.hash).where(
                NODES.c.petition_id == petition_id,
                sa.tuple_(NODES.c.level, NODES.c.idx).in_(inner),
            )
        )
        found.update({(level, index): value for level, index, value in rows})
    missing = keys - found.keys()
    if missing:
        raise LogDamaged(f"The log is damaged: stored hashes {sorted(missing)[:3]} are missing.")
    return found


class LogDamaged(DomainError):
    """Rows the tree needs are gone or changed under the log: say so, never a bare 500."""

    status_code = 503
    message = "This petition's log is damaged: rows it needs are missing."


def _run(petition_id: int, algorithm: Any) -> Any:
    """Run a merkle.py algorithm on stored hashes, fetched in one go."""
    hashes = _nodes(petition_id, merkle.plan(algorithm))
    return algorithm(lambda level, index: hashes[(level, index)])


def _lock(petition_id: int) -> tuple[bytes, int, int]:
    """Lock the petition's log row (made if need be): (salt, size, standing)."""
    salt_of(petition_id)
    row = db.session.execute(
        sa.update(LOGS)
        .where(LOGS.c.petition_id == petition_id)
        .values(size=LOGS.c.size)
        .returning(LOGS.c.salt, LOGS.c.size, LOGS.c.standing)
    ).one()
    return row.salt, row.size, row.standing


def sequence(petition_id: int) -> tuple[int, int]:
    """Place every waiting entry in the tree, in the order written: (size, standing)."""
    salt, size, standing = _lock(petition_id)
    pending = db.session.execute(
        sa.select(ENTRIES.c.id, ENTRIES.c.kind, ENTRIES.c.signature_id, ENTRIES.c.withdraws_id)
        .where(ENTRIES.c.petition_id == petition_id, ENTRIES.c.leaf_index.is_(None))
        .order_by(ENTRIES.c.id)
    ).all()
    if not pending:
        return size, standing
    named = {row.withdraws_id for row in pending if row.kind == "withdraw"}
    placed: dict[int, tuple[int, bytes]] = {
        row.id: (row.leaf_index, row.leaf_hash)
        for row in db.session.execute(
            sa.select(ENTRIES.c.id, ENTRIES.c.leaf_index, ENTRIES.c.leaf_hash).where(
                ENTRIES.c.id.in_(sorted(named)), ENTRIES.c.leaf_index.is_not(None)
            )
        )
    }
    updates, leaves = [], []
    for position, row in enumerate(pending, start=size):
        if row.kind == "add":
            leaf = add_leaf(salt, petition_id, row.signature_id)
            standing += 1
        elif row.withdraws_id in placed:
            leaf = withdraw_leaf(*placed[row.withdraws_id])
            standing -= 1
        else:
            raise LogDamaged(
                f"The log is damaged: withdrawal entry {row.id} names an addition it lacks."
            )
        placed[row.id] = (position, leaf)
        updates.append({"entry_id": row.id, "index": position, "hash": leaf})
        leaves.append(leaf)
    edge = _nodes(petition_id, merkle.frontier(size))
    nodes = [
        {"petition_id": petition_id, "level": level, "idx": index, "hash": value}
        for level, index, value in merkle.complete_nodes(
            size, leaves, lambda level, index: edge[(level, index)]
        )
    ]
    _place(updates)
    if nodes:
        db.session.execute(sa.insert(NODES), nodes)
    size += len(pending)
    db.session.execute(
        sa.update(LOGS)
        .where(LOGS.c.petition_id == petition_id)
        .values(size=size, standing=standing)
    )
    return size, standing


_PLACE_PG = sa.text(
    "UPDATE log_entries AS e SET leaf_index = v.i, leaf_hash = v.h "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:idx AS bigint[]), CAST(:hashes AS bytea[])) "
    "AS v(id, i, h) WHERE e.id = v.id"
)
_CHUNK = 10_000


def _place(updates: list[dict[str, Any]]) -> None:
    """Write the entries' leaf indexes and hashes: on PostgreSQL one statement per 10,000
    (arrays unnested), else an executemany (SQLite runs it in process)."""
    if db.engine.dialect.name != "postgresql":
        db.session.execute(
            sa.update(ENTRIES)
            .where(ENTRIES.c.id == sa.bindparam("entry_id"))
            .values(leaf_index=sa.bindparam("index"), leaf_hash=sa.bindparam("hash")),
            updates,
        )
        return
    for start in range(0, len(updates), _CHUNK):
        chunk = updates[start : start + _CHUNK]
        db.session.execute(
            _PLACE_PG,
            {
                "ids": [u["entry_id"] for u in chunk],
                "idx": [u["index"] for u in chunk],
                "hashes": [u["hash"] for u in chunk],
            },
        )


# Checkpoints ---------------------------------------------------------------------------------


@cache
def _private_key(encoded: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded))


def signing_key() -> Ed25519PrivateKey:
    return _private_key(current_app.config["LOG_SIGNING_KEY"])


def public_key_pem() -> bytes:
    """The site's log key, for /.well-known/fancampaign-log-key."""
    return (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_id() -> str:
    raw = (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return hashlib.sha256(raw).hexdigest()[:16]


def latest_checkpoint(petition_id: int) -> Checkpoint | None:
    return db.session.scalar(
        sa.select(Checkpoint)
        .where(Checkpoint.petition_id == petition_id)
        .order_by(Checkpoint.number.desc())
        .limit(1)
    )


def checkpoint_interval() -> int:
    """Seconds between two "update" checkpoints of a changing petition, at least."""
    return int(current_app.config.get("LOG_CHECKPOINT_INTERVAL", 60))


def _interval() -> timedelta:
    return timedelta(seconds=checkpoint_interval())


def make_checkpoint(petition: Any, event: str = "update", *, due_only: bool = False) -> Checkpoint:
    """Sequence the waiting entries and sign a checkpoint of the tree.

    `event` says why: "update" (the petition changed), or "closed", "won", "delivered" (made
    whatever the time since the last). With `due_only`, an "update" is made only when entries
    wait and the latest checkpoint is older than the interval; else the latest is returned.
    """
    if event not in CHECKPOINT_EVENTS:
        raise ValueError(f"unknown checkpoint event {event!r}")
    size, standing = sequence(petition.id)
    latest = latest_checkpoint(petition.id)
    if latest is not None and event == "update":
        unchanged = latest.tree_size == size
        recent = latest.created_at > utcnow() - _interval()
        if unchanged or (due_only and recent):
            return latest
    root = _run(petition.id, lambda node: merkle.root(node, size))
    now = utcnow().replace(microsecond=0)
    made_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = checkpoint_text(petition.id, size, root, standing, made_at, event)
    checkpoint = Checkpoint(
        petition_id=petition.id,
        number=(latest.number + 1) if latest else 1,
        tree_size=size,
        root_hash=root,
        standing_count=standing,
        event=event,
        created_at_text=made_at,
        created_at=now,
        key_id=key_id(),
        signature=signing_key().sign(text),
    )
    db.session.add(checkpoint)
    db.session.flush()
    return checkpoint


def checkpoint_if_due(petition: Any) -> Checkpoint:
    """The latest checkpoint, after making one if the petition changed and one is due."""
    latest = latest_checkpoint(petition.id)
    if latest is not None:
        if latest.created_at > utcnow() - _interval():
            return latest
        waiting = db.session.scalar(
            sa.select(ENTRIES.c.id)
            .where(ENTRIES.c.petition_id == petition.id, ENTRIES.c.leaf_index.is_(None))
            .limit(1)
        )
        if waiting is None:
            return latest
    return make_checkpoint(petition, due_only=True)


def list_checkpoints(petition_id: int, after: int, limit: int) -> list[Checkpoint]:
    """Checkpoints numbered above `after`, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Checkpoint)
            .where(Checkpoint.petition_id == petition_id, Checkpoint.number > after)
            .order_by(Checkpoint.number)
            .limit(limit)
        )
    )


# Proofs --------------------------------------------------------------------------------------


def consistency(petition: Any, first: int, second: int) -> list[bytes]:
    """RFC 9162 consistency proof between two tree sizes up to the latest checkpoint's.

    Raises InvalidInput when the sizes are out of order or past the latest checkpoint.
    """
    latest = checkpoint_if_due(petition)
    if not 0 <= first <= second <= latest.tree_size:
        raise InvalidInput(
            f"`from` and `to` must be tree sizes with 0 <= from <= to <= {latest.tree_size} "
            "(the latest checkpoint's size)."
        )
    return _run(petition.id, lambda node: merkle.consistency_proof(node, first, second))


@dataclass(frozen=True)
class Inclusion:
    checkpoint: Checkpoint
    leaf_index: int
    leaf_hash: bytes
    kind: str
    proof: list[bytes]


def inclusion(petition: Any, leaf_hash: bytes) -> Inclusion:
    """Where a leaf is in the latest checkpoint, with its RFC 9162 inclusion proof.

    Raises NotFoundError when no leaf of that hash is in the latest checkpoint yet.
    """
    latest = checkpoint_if_due(petition)
    row = db.session.execute(
        sa.select(ENTRIES.c.leaf_index, ENTRIES.c.kind).where(
            ENTRIES.c.petition_id == petition.id,
            ENTRIES.c.leaf_hash == leaf_hash,
            ENTRIES.c.leaf_index < latest.tree_size,
        )
    ).first()
    if row is None:
        raise NotFoundError(
            "No leaf with that hash is in the latest checkpoint. A new signature is placed "
            "in the log by the next checkpoint, within a minute: try again shortly."
        )
    proof = _run(
        petition.id, lambda node: merkle.inclusion_proof(node, row.leaf_index, latest.tree_size)
    )
    return Inclusion(latest, row.leaf_index, leaf_hash, row.kind, proof)


@dataclass(frozen=True)
class Leaf:
    index: int
    kind: str
    leaf_hash: bytes
    commitment: bytes | None  # add
    withdraws: int | None  # withdraw: the leaf index of the add it takes back


def list_leaves(petition: Any, start: int, limit: int) -> tuple[Checkpoint, list[Leaf]]:
    """The leaves from `start` on (up to the latest checkpoint's size), with what each says,
    so anyone can rebuild the tree and recount it."""
    latest = checkpoint_if_due(petition)
    salt = salt_of(petition.id)
    named = ENTRIES.alias("named")
    rows = db.session.execute(
        sa.select(
            ENTRIES.c.leaf_index,
            ENTRIES.c.kind,
            ENTRIES.c.leaf_hash,
            ENTRIES.c.signature_id,
            named.c.leaf_index.label("withdraws"),
        )
        .outerjoin(named, named.c.id == ENTRIES.c.withdraws_id)
        .where(
            ENTRIES.c.petition_id == petition.id,
            ENTRIES.c.leaf_index >= start,
            ENTRIES.c.leaf_index < latest.tree_size,
        )
        .order_by(ENTRIES.c.leaf_index)
        .limit(limit)
    )
    return latest, [
        Leaf(
            row.leaf_index,
            row.kind,
            row.leaf_hash,
            commitment(salt, petition.id, row.signature_id) if row.kind == "add" else None,
            row.withdraws,
        )
        for row in rows
    ]
