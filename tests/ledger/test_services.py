"""The petition log: entries with the signatures, checkpoints, proofs and receipts."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.ledger import services as ledger
from fancampaign.ledger.models import Checkpoint, LogEntry
from fancampaign.ledger.verifier import checkpoint_text, verify_consistency, verify_inclusion
from fancampaign.mail.models import OutboxMessage
from fancampaign.petitions import services
from fancampaign.petitions.models import Petition, Signature
from tests.factories import make_petition, make_user

SECRET = "test-secret-key"


def entries(petition: Petition) -> list[LogEntry]:
    return list(
        db.session.scalars(
            sa.select(LogEntry).where(LogEntry.petition_id == petition.id).order_by(LogEntry.id)
        )
    )


def confirmed_rows(petition: Petition) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            Signature.petition_id == petition.id, Signature.confirmed_at.is_not(None)
        )
    )


def sign(petition: Petition, n: int = 1) -> list[Signature]:
    signed = [services.sign_petition(make_user(commit=False), petition) for _ in range(n)]
    db.session.commit()
    return signed


def last_mail() -> str:
    return db.session.scalars(sa.select(OutboxMessage.body).order_by(OutboxMessage.id)).all()[-1]


def guest_confirms(petition: Petition, email: str) -> Signature:
    services.sign_as_guest(
        petition,
        name="Guest",
        email=email,
        consent=True,
        secret_key=SECRET,
        base_url="http://localhost",
    )
    db.session.commit()
    token = last_mail().split("/signatures/confirm/")[1].split()[0]
    signature, counted = services.confirm_signature(token, SECRET, 3600)
    assert counted
    db.session.commit()
    return signature


def test_a_member_signature_appends_an_add_entry(app):
    petition = make_petition()
    (signature,) = sign(petition)
    (entry,) = entries(petition)
    assert (entry.kind, entry.signature_id, entry.leaf_index) == ("add", signature.id, None)


def test_a_guest_signature_enters_the_log_only_when_confirmed(app):
    petition = make_petition()
    services.sign_as_guest(
        petition,
        name="G",
        email="g@example.com",
        consent=True,
        secret_key=SECRET,
        base_url="http://localhost",
    )
    db.session.commit()
    assert entries(petition) == []
    signature = guest_confirms(petition, "h@example.com")
    assert [(e.kind, e.signature_id) for e in entries(petition)] == [("add", signature.id)]


def test_the_confirmation_mail_carries_the_receipt(app):
    petition = make_petition()
    signature = guest_confirms(petition, "r@example.com")
    receipt = ledger.receipt_hash(petition.id, signature.id)
    assert f"Your receipt: {receipt}" in last_mail()
    assert "r@example.com" not in receipt


def test_a_withdrawal_appends_an_entry_naming_the_addition(app):
    petition = make_petition()
    user = make_user()
    services.sign_petition(user, petition)
    db.session.commit()
    services.withdraw_signature(user, petition)
    db.session.commit()
    added, withdrawn = entries(petition)
    assert withdrawn.kind == "withdraw" and withdrawn.withdraws_id == added.id
    checkpoint = ledger.make_checkpoint(petition)
    assert (checkpoint.tree_size, checkpoint.standing_count) == (2, 0)
    db.session.refresh(withdrawn)
    db.session.refresh(added)
    assert withdrawn.leaf_hash == ledger.withdraw_leaf(added.leaf_index, added.leaf_hash)


@pytest.mark.parametrize("broken_step", ["log", "after"])
def test_a_failure_after_the_signature_leaves_neither_signature_nor_entry(
    app, monkeypatch, broken_step
):
    """The log's step of signing (on SQLite its own INSERT; on PostgreSQL, where one
    statement writes the signature, its count and its entry, what follows it), or anything
    later, fails: the rollback leaves no signature, no entry and no count."""
    petition = make_petition()
    user = make_user()

    def broken(*_args: Any) -> None:
        raise RuntimeError("the log is down")

    if broken_step == "after":
        monkeypatch.setattr(services, "_attach", broken)
    elif db.engine.dialect.name == "postgresql":
        monkeypatch.setattr(ledger, "remember_salt", broken)
    else:
        monkeypatch.setattr(ledger, "record_addition", broken)
    with pytest.raises(RuntimeError):
        services.sign_petition(user, petition)
    db.session.rollback()
    assert (confirmed_rows(petition), entries(petition)) == (0, [])
    assert db.session.get(Petition, petition.id).signature_count == 0


def test_a_failure_after_the_entry_leaves_neither_confirmation_nor_entry(app, monkeypatch):
    petition = make_petition()
    services.sign_as_guest(
        petition,
        name="G",
        email="f@example.com",
        consent=True,
        secret_key=SECRET,
        base_url="http://localhost",
    )
    db.session.commit()
    token = last_mail().split("/signatures/confirm/")[1].split()[0]

    def broken(*_args: Any) -> None:
        raise RuntimeError("the counter is down")

    monkeypatch.setattr(services, "_bump", broken)
    with pytest.raises(RuntimeError):
        services.confirm_signature(token, SECRET, 3600)
    db.session.rollback()
    assert (confirmed_rows(petition), entries(petition)) == (0, [])


@pytest.mark.config(LOG_ENABLED=False)
def test_with_the_log_off_signing_writes_no_entry(app):
    petition = make_petition()
    sign(petition)
    assert entries(petition) == []


def test_a_checkpoint_is_signed_by_the_site_key(app):
    petition = make_petition()
    sign(petition, 3)
    checkpoint = ledger.make_checkpoint(petition)
    db.session.commit()
    key = load_pem_public_key(ledger.public_key_pem())
    text = checkpoint_text(
        petition.id,
        checkpoint.tree_size,
        checkpoint.root_hash,
        checkpoint.standing_count,
        checkpoint.created_at_text,
        checkpoint.event,
    )
    key.verify(checkpoint.signature, text)  # raises InvalidSignature if not
    assert (checkpoint.number, checkpoint.tree_size, checkpoint.standing_count) == (1, 3, 3)
    assert base64.b64encode(checkpoint.signature)


def test_checkpoints_come_at_most_once_an_interval_while_the_petition_changes(app):
    petition = make_petition()
    sign(petition)
    first = ledger.checkpoint_if_due(petition)
    sign(petition)
    assert ledger.checkpoint_if_due(petition).id == first.id  # within the minute
    first.created_at -= timedelta(seconds=61)
    db.session.commit()
    second = ledger.checkpoint_if_due(petition)
    assert (second.number, second.tree_size) == (2, 2)
    second.created_at -= timedelta(seconds=61)
    db.session.commit()
    assert ledger.checkpoint_if_due(petition).id == second.id  # nothing changed since


def test_closing_and_winning_take_a_checkpoint_at_once(app):
    organiser = make_user(role=Role.ORGANISER)
    petition = make_petition(organiser)
    sign(petition, 2)
    ledger.checkpoint_if_due(petition)
    sign(petition)
    services.close_petition(organiser, petition)
    services.mark_won(organiser, petition, "They said yes!")
    db.session.commit()
    events = db.session.scalars(
        sa.select(Checkpoint.event, Checkpoint.tree_size)
        .where(Checkpoint.petition_id == petition.id)
        .order_by(Checkpoint.number)
    )
    rows = db.session.execute(
        sa.select(Checkpoint.event, Checkpoint.tree_size)
        .where(Checkpoint.petition_id == petition.id)
        .order_by(Checkpoint.number)
    ).all()
    assert list(events) == ["update", "closed", "won"]
    assert [tuple(r) for r in rows] == [("update", 2), ("closed", 3), ("won", 3)]


@pytest.mark.config(LOG_CHECKPOINT_INTERVAL=0)
def test_every_pair_of_checkpoints_is_consistent_and_every_receipt_included(app):
    petition = make_petition()
    users = [make_user(commit=False) for _ in range(13)]
    checkpoints, signature_ids = [], []
    for i, user in enumerate(users):
        signature_ids.append(services.sign_petition(user, petition).id)
        if i % 4 == 3:  # now and then someone withdraws
            services.withdraw_signature(users[i // 4], petition)
        db.session.commit()
        checkpoints.append(ledger.checkpoint_if_due(petition))
        db.session.commit()
    for old in checkpoints:
        for new in checkpoints:
            if old.tree_size <= new.tree_size:
                proof = ledger.consistency(petition, old.tree_size, new.tree_size)
                assert verify_consistency(
                    old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof
                )
    latest = checkpoints[-1]
    assert (latest.tree_size, latest.standing_count) == (16, 10)
    assert latest.standing_count == confirmed_rows(petition) == petition.signature_count
    for signature_id in signature_ids:
        receipt = bytes.fromhex(ledger.receipt_hash(petition.id, signature_id))
        found = ledger.inclusion(petition, receipt)
        assert found.kind == "add"
        assert verify_inclusion(
            found.leaf_index, latest.tree_size, receipt, found.proof, latest.root_hash
        )


def test_a_receipt_not_yet_in_a_checkpoint_is_not_found(app):
    petition = make_petition()
    sign(petition)
    ledger.checkpoint_if_due(petition)
    (late,) = sign(petition)
    with pytest.raises(ledger.NotFoundError):
        ledger.inclusion(petition, bytes.fromhex(ledger.receipt_hash(petition.id, late.id)))


def test_consistency_refuses_sizes_past_the_latest_checkpoint(app):
    petition = make_petition()
    sign(petition, 2)
    with pytest.raises(ledger.InvalidInput):
        ledger.consistency(petition, 1, 3)
    with pytest.raises(ledger.InvalidInput):
        ledger.consistency(petition, 2, 1)


def test_existing_signatures_are_in_the_log_from_the_migration_on(app):
    # benchdata's bulk load and the migration add one entry per confirmed signature.
    from fancampaign.benchdata import set_counters

    petition = make_petition()
    sign(petition, 4)
    db.session.execute(sa.delete(LogEntry))
    db.session.commit()
    set_counters(db.session.connection())
    db.session.commit()
    assert ledger.make_checkpoint(petition).standing_count == 4
