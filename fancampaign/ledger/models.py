"""Each petition's append-only signature log (RFC 9162 Merkle tree) and its signed checkpoints.

A signature's confirmation appends an `add` entry, its withdrawal a `withdraw` entry naming
the earlier one, in the transaction that changes the signature (services.record_*): a plain
INSERT, no lock shared between signers. Entries get their place in the tree (leaf_index,
leaf_hash) when the next checkpoint is made, in the order they were written, as Certificate
Transparency logs sequence the entries they promised: signing never waits on the log.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fancampaign.extensions import db, utcnow

ENTRY_KINDS = ("add", "withdraw")
# Why a checkpoint was made: the petition changed (at most one a minute), or an event of its
# life that must be on record even if another checkpoint was made seconds before.
CHECKPOINT_EVENTS = ("update", "closed", "won", "delivered")


class PetitionLog(db.Model):
    """A petition's log head: its salt and how far it is sequenced."""

    __tablename__ = "petition_logs"

    petition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    # Mixed into every leaf so that a leaf hash cannot be matched to a signature id by guessing.
    salt: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    size: Mapped[int] = mapped_column(default=0)
    standing: Mapped[int] = mapped_column(default=0)


class LogEntry(db.Model):
    """One leaf: a signature counted (`add`) or withdrawn (`withdraw`, naming the add)."""

    __tablename__ = "log_entries"
    __table_args__ = (
        sa.UniqueConstraint("petition_id", "leaf_index", name="uq_log_entries_petition_leaf"),
        sa.Index("ix_log_entries_petition_signature", "petition_id", "signature_id"),
        sa.Index("ix_log_entries_petition_hash", "petition_id", "leaf_hash"),
        sa.CheckConstraint("kind IN ('add', 'withdraw')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(8))
    # No foreign key: the entry outlives a withdrawn (deleted) signature.
    signature_id: Mapped[int]
    withdraws_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    leaf_index: Mapped[int | None] = mapped_column(sa.BigInteger)
    leaf_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogNode(db.Model):
    """A complete subtree's hash (level >= 1; the leaves are in log_entries)."""

    __tablename__ = "log_nodes"

    petition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column("idx", sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class Checkpoint(db.Model):
    """A signed tree head: size, root, standing count and time, under the site's key."""

    __tablename__ = "log_checkpoints"
    __table_args__ = (
        sa.UniqueConstraint("petition_id", "number", name="uq_log_checkpoints_petition_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    number: Mapped[int]
    tree_size: Mapped[int] = mapped_column(sa.BigInteger)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    standing_count: Mapped[int]
    event: Mapped[str] = mapped_column(sa.String(10))
    # The signed text carries the time to the second, as written here.
    created_at_text: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    key_id: Mapped[str] = mapped_column(sa.String(16))
    signature: Mapped[bytes] = mapped_column(sa.LargeBinary(64))

    def as_record(self) -> dict[str, Any]:
        """The checkpoint as published: `signature` (base64 Ed25519) covers the text that
        ledger/verifier.py's checkpoint_text builds from the other fields."""
        return {
            "number": self.number,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "standing_count": self.standing_count,
            "created_at": self.created_at_text,
            "event": self.event,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }
