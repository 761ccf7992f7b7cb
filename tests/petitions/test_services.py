"""The petition rules, called through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.accounts.services import erase_user, export_data
from fancampaign.errors import InvalidInput, InvalidToken, NotAllowed
from fancampaign.extensions import db, utcnow
from fancampaign.mail.models import OutboxMessage
from fancampaign.petitions import services
from fancampaign.petitions.models import (
    COUNTER_SLOTS,
    Petition,
    PetitionCounterSlot,
    Signature,
    next_milestone,
)
from fancampaign.petitions.services import (
    AlreadySigned,
    InvalidTransition,
    NotSigned,
    PetitionClosed,
)
from tests.factories import make_petition, make_user

SECRET = "test-secret-key"
BASE = "http://localhost"


def guest_sign(petition: Petition, email: str = "Fan@Example.com", **kw: object) -> None:
    services.sign_as_guest(
        petition,
        name=str(kw.pop("name", "A Fan")),
        email=email,
        consent=bool(kw.pop("consent", True)),
        secret_key=SECRET,
        base_url=BASE,
        **kw,  # type: ignore[arg-type]
    )
    db.session.commit()


@pytest.fixture
def outbox(app):
    """Bodies of the queued mail (services queue it; requests send it after commit)."""

    class Queued(list):
        def refresh(self):
            self[:] = [
                m.body
                for m in db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))
            ]
            return self

    return Queued()


def token_from(outbox: list, index: int = -1) -> str:
    body = outbox.refresh()[index]
    return body.split("/signatures/confirm/", 1)[1].split()[0]


# Starting and reviewing -------------------------------------------------------------------


def test_organiser_petition_opens_at_once(app):
    petition = make_petition()
    assert petition.status == "open"
    assert petition.opened_at is not None
    assert petition.body_html == "<p>Why it <strong>matters</strong>.</p>\n"


def test_member_petition_waits_for_review(app):
    petition = make_petition(make_user())
    assert petition.status == "pending"
    assert not petition.is_open


def test_petition_slugs_are_unique(app):
    one = make_petition(title="Make Alita 2 happen now")
    two = make_petition(title="Make Alita 2 happen now")
    assert one.slug == "make-alita-2-happen-now"
    assert two.slug == "make-alita-2-happen-now-2"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "short"),
        ("title", " " * 40),
        ("summary", ""),
        ("target", ""),
        ("goal", 0),
        ("goal", None),
        ("deadline", "past"),
    ],
)
def test_bad_petition_input_is_refused(app, field, value):
    organiser = make_user(role=Role.ORGANISER)
    data = {
        "title": "A perfectly good title",
        "summary": "A perfectly good summary.",
        "body": "",
        "target": "The studio",
        "goal": 100,
        "deadline": None,
    }
    data[field] = utcnow() - timedelta(days=1) if value == "past" else value
    with pytest.raises(InvalidInput) as info:
        services.create_petition(organiser, **data)
    assert info.value.details["field"] == field


def test_unconfirmed_member_cannot_start_a_petition(app):
    with pytest.raises(NotAllowed):
        make_petition(make_user(confirmed=False))


def test_moderator_approves_pending_petition(app):
    creator = make_user()
    petition = make_petition(creator)
    services.approve_petition(make_user(role=Role.MODERATOR), petition)
    assert petition.status == "open" and petition.opened_at is not None


def test_moderator_rejects_with_reason(app):
    petition = make_petition(make_user())
    moderator = make_user(role=Role.MODERATOR)
    with pytest.raises(InvalidInput):
        services.reject_petition(moderator, petition, "  ")
    services.reject_petition(moderator, petition, "Off topic for this site.")
    assert petition.status == "rejected"
    assert petition.rejection_reason == "Off topic for this site."
    with pytest.raises(InvalidTransition):
        services.approve_petition(moderator, petition)


def test_only_moderators_review(app):
    petition = make_petition(make_user())
    with pytest.raises(NotAllowed):
        services.approve_petition(make_user(role=Role.ORGANISER), petition)


def test_close_and_win(app):
    petition = make_petition()
    organiser = petition.creator
    services.close_petition(organiser, petition)
    assert petition.status == "closed" and petition.closed_at is not None
    with pytest.raises(InvalidTransition):
        services.close_petition(organiser, petition)
    with pytest.raises(InvalidInput):
        services.mark_won(organiser, petition, "")
    services.mark_won(organiser, petition, "The studio said yes!")
    assert petition.status == "won" and petition.victory_note == "The studio said yes!"


def test_members_cannot_close(app):
    petition = make_petition()
    with pytest.raises(NotAllowed):
        services.close_petition(make_user(), petition)


def test_goal_rises_to_the_next_milestone(app):
    assert [next_milestone(n) for n in (0, 100, 499, 5000, 100_000, 2_500_000)] == [
        100,
        500,
        500,
        10_000,
        500_000,
        3_000_000,
    ]
    petition = make_petition(goal=100)
    petition.signature_count = 150
    assert petition.display_goal == 500 and petition.goal_raised


# Signing ----------------------------------------------------------------------------------


def test_member_signs_once(app, count_rows):
    petition = make_petition()
    fan = make_user()
    services.sign_petition(fan, petition, reason="Because.", country="gb", is_public=True)
    db.session.commit()
    with pytest.raises(AlreadySigned):
        services.sign_petition(fan, petition)
    db.session.rollback()
    assert count_rows(petition) == (1, 1)
    sig = db.session.scalar(sa.select(Signature))
    assert (sig.country, sig.reason, sig.is_public) == ("GB", "Because.", True)


@pytest.mark.parametrize(
    ("user_attrs", "message"),
    [
        ({"suspended_until": "soon"}, "suspended"),
        ({"is_banned": True}, "log in"),
        ({"confirmed": False}, "confirm"),
    ],
)
def test_suspended_banned_and_unconfirmed_cannot_sign(app, count_rows, user_attrs, message):
    if user_attrs.get("suspended_until") == "soon":
        user_attrs = {"suspended_until": utcnow() + timedelta(days=1)}
    petition = make_petition()
    fan = make_user(**user_attrs)
    with pytest.raises(NotAllowed) as info:
        services.sign_petition(fan, petition)
    assert message in info.value.message.lower()
    db.session.rollback()
    assert count_rows(petition) == (0, 0)


def test_closed_petition_refuses_signatures(app, count_rows):
    petition = make_petition()
    services.close_petition(petition.creator, petition)
    with pytest.raises(PetitionClosed):
        services.sign_petition(make_user(), petition)
    with pytest.raises(PetitionClosed):
        guest_sign(petition)
    db.session.rollback()
    assert count_rows(petition) == (0, 0)


def test_deadline_passed_counts_as_closed(app, count_rows):
    petition = make_petition(deadline=utcnow() + timedelta(days=1))
    petition.deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert petition.status == "open"
    assert petition.effective_status == "closed" and not petition.is_open
    with pytest.raises(PetitionClosed):
        services.sign_petition(make_user(), petition)
    db.session.rollback()
    ids = lambda status: [p.id for p in db.session.scalars(services.list_petitions(status))]  # noqa: E731
    assert ids("open") == []
    assert ids("closed") == [petition.id]


def test_reason_is_limited_and_country_must_exist(app):
    petition = make_petition()
    fan = make_user()
    with pytest.raises(InvalidInput):
        services.sign_petition(fan, petition, reason="x" * 501)
    with pytest.raises(InvalidInput):
        services.sign_petition(fan, petition, country="XX")


def test_withdraw_removes_signature_and_count(app, count_rows):
    petition = make_petition()
    fan = make_user()
    services.sign_petition(fan, petition)
    db.session.commit()
    services.withdraw_signature(fan, petition)
    db.session.commit()
    assert count_rows(petition) == (0, 0)
    with pytest.raises(NotSigned):
        services.withdraw_signature(fan, petition)


def test_cannot_withdraw_from_closed_petition(app, count_rows):
    petition = make_petition()
    fan = make_user()
    services.sign_petition(fan, petition)
    services.close_petition(petition.creator, petition)
    db.session.commit()
    with pytest.raises(PetitionClosed):
        services.withdraw_signature(fan, petition)
    db.session.rollback()
    assert count_rows(petition) == (1, 1)


# Guests -----------------------------------------------------------------------------------


def test_guest_signature_counts_after_confirmation(app, outbox, count_rows):
    petition = make_petition()
    guest_sign(petition)
    assert count_rows(petition) == (0, 0)
    assert len(outbox.refresh()) == 1 and "/signatures/confirm/" in outbox[0]
    sig, counted = services.confirm_signature(token_from(outbox), SECRET, 3600)
    db.session.commit()
    assert counted and sig.confirmed_at is not None
    assert count_rows(petition) == (1, 1)


def test_reused_token_changes_nothing(app, outbox, count_rows):
    petition = make_petition()
    guest_sign(petition)
    token = token_from(outbox)
    services.confirm_signature(token, SECRET, 3600)
    db.session.commit()
    _sig, counted = services.confirm_signature(token, SECRET, 3600)
    db.session.commit()
    assert not counted
    assert count_rows(petition) == (1, 1)


@pytest.mark.parametrize("how", ["tampered", "expired", "other-key", "garbage"])
def test_bad_tokens_change_nothing(app, outbox, count_rows, how):
    petition = make_petition()
    guest_sign(petition)
    token = token_from(outbox)
    key, max_age = SECRET, 3600
    if how == "tampered":
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    elif how == "expired":
        max_age = -1
    elif how == "other-key":
        key = "another-key"
    else:
        token = "not-a-token"
    with pytest.raises(InvalidToken):
        services.confirm_signature(token, key, max_age)
    db.session.rollback()
    assert count_rows(petition) == (0, 0)


def test_duplicate_guest_gets_same_answer_and_mailbox_is_told(app, outbox, count_rows):
    petition = make_petition()
    guest_sign(petition, "fan@example.com")
    services.confirm_signature(token_from(outbox), SECRET, 3600)
    db.session.commit()
    guest_sign(petition, "FAN@example.com")  # no error: the same answer as a first signature
    assert len(outbox.refresh()) == 2
    assert "already signed" in outbox[1]
    assert count_rows(petition) == (1, 1)


def test_unconfirmed_duplicate_guest_gets_a_new_link(app, outbox, count_rows):
    petition = make_petition()
    guest_sign(petition, "fan@example.com")
    guest_sign(petition, "fan@example.com")
    assert len(outbox.refresh()) == 2 and "/signatures/confirm/" in outbox[1]
    services.confirm_signature(token_from(outbox), SECRET, 3600)
    db.session.commit()
    assert count_rows(petition) == (1, 1)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ali.ta@gmail.com", "alita@gmail.com"),
        ("alita@gmail.com", "Alita+sequel@googlemail.com"),
        ("fan@example.com", " FAN+x@Example.COM "),
    ],
)
def test_normalised_emails_sign_once(app, outbox, count_rows, first, second):
    petition = make_petition()
    guest_sign(petition, first)
    guest_sign(petition, second)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 1


def test_guest_must_consent_and_give_valid_email(app, outbox):
    petition = make_petition()
    with pytest.raises(InvalidInput):
        guest_sign(petition, consent=False)
    db.session.rollback()
    with pytest.raises(InvalidInput):
        guest_sign(petition, "not-an-email")
    db.session.rollback()
    with pytest.raises(InvalidInput):
        guest_sign(petition, name="   ")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 0
    assert outbox.refresh() == []


def test_guest_who_registers_owns_the_signature(app, outbox, count_rows):
    petition = make_petition()
    guest_sign(petition, "newfan@example.com")
    assert count_rows(petition) == (0, 0)
    user = make_user("newfan", email="newfan@example.com")  # confirmed: the signal fires
    sig = db.session.scalar(sa.select(Signature))
    assert sig.user_id == user.id
    assert count_rows(petition) == (1, 1)
    with pytest.raises(AlreadySigned):
        services.sign_petition(user, petition)


def test_member_with_guest_signature_claims_it(app, outbox, count_rows):
    petition = make_petition()
    fan = make_user(email="fan@example.com")
    guest_sign(petition, "fan@example.com")
    services.sign_petition(fan, petition)
    db.session.commit()
    assert count_rows(petition) == (1, 1)
    assert db.session.scalar(sa.select(Signature.user_id)) == fan.id


# Accounts, export, counters -----------------------------------------------------------------


def test_deleting_account_keeps_signature_counted_anonymously(app, count_rows):
    petition = make_petition()
    fan = make_user()
    services.sign_petition(fan, petition, is_public=True, keep_updated=True)
    db.session.commit()
    erase_user(fan)
    db.session.commit()
    sig = db.session.scalar(sa.select(Signature))
    assert (sig.user_id, sig.email_normalised, sig.is_public) == (None, None, False)
    assert count_rows(petition) == (1, 1)


def test_export_lists_signatures(app):
    petition = make_petition()
    fan = make_user()
    services.sign_petition(fan, petition, reason="Yes")
    db.session.commit()
    data = export_data(fan)
    assert data["signatures"][0]["petition"] == petition.slug
    assert data["signatures"][0]["reason"] == "Yes"


def test_signers_to_update(app, outbox):
    petition = make_petition()
    keen = make_user()
    quiet = make_user()
    services.sign_petition(keen, petition, keep_updated=True)
    services.sign_petition(quiet, petition, keep_updated=False)
    guest_sign(petition, "guest@example.com", keep_updated=True)  # unconfirmed: not included
    rows = db.session.execute(services.signers_to_update(petition)).all()
    assert [(r.user_id, r.email) for r in rows] == [(keen.id, keen.email)]


def test_recount_reports_and_repairs_drift(app, count_rows):
    petition = make_petition()
    services.sign_petition(make_user(), petition)
    db.session.execute(sa.update(Petition).values(signature_count=7))  # the base column
    db.session.commit()
    drifts = services.recount(fix=False)
    assert [(p.id, stored, actual) for p, stored, actual in drifts] == [(petition.id, 8, 1)]
    services.recount(fix=True)
    db.session.commit()
    assert count_rows(petition) == (1, 1)
    assert services.recount() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PetitionCounterSlot)) == 0


def test_count_is_spread_over_a_few_slot_rows(app, count_rows):
    petition = make_petition()
    fans = [make_user(commit=False) for _ in range(20)]
    for fan in fans:
        services.sign_petition(fan, petition)
    db.session.commit()
    slots = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(PetitionCounterSlot)
        .where(PetitionCounterSlot.petition_id == petition.id)
    )
    assert 1 < slots <= COUNTER_SLOTS
    for fan in fans[:5]:
        services.withdraw_signature(fan, petition)
    db.session.commit()
    assert count_rows(petition) == (15, 15)
    assert petition.signature_count == 15


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_memoised_chart_and_countries_follow_each_new_signature(app):
    """The chart's days and the top countries are kept under the petition's count (in this
    process without Redis): a new signature changes the key, so they never lag behind."""
    petition = make_petition()
    services.sign_petition(make_user(), petition, country="FR")
    db.session.commit()
    assert services.top_countries(petition) == [("FR", 1)]
    assert sum(n for _day, n in services.daily_counts(petition)) == 1
    assert services.daily_counts(petition)[-1][0] == utcnow().date()

    services.sign_petition(make_user(), petition, country="JP")
    services.sign_petition(make_user(), petition, country="JP")
    db.session.commit()
    assert services.top_countries(petition) == [("JP", 2), ("FR", 1)]
    assert sum(n for _day, n in services.daily_counts(petition)) == 3
