"""The campaign's services: each event reaches exactly the signers who asked for updates
(member or guest), once; the timeline, the audit log, links in mail."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.campaign import mailer
from fancampaign.campaign import services as campaign
from fancampaign.campaign.models import CampaignEvent, CampaignMail, CampaignOptOut
from fancampaign.errors import InvalidInput, InvalidToken, NotAllowed
from fancampaign.extensions import db, utcnow
from fancampaign.moderation.models import ModerationAction
from fancampaign.news import services as news
from fancampaign.petitions import services as petitions
from fancampaign.petitions.models import Petition, Signature
from tests.campaign.conftest import SECRET, Signers, queued_to, run_worker, sign_guest
from tests.factories import make_news_post, make_user

MEMBER, GUEST = "mel@example.com", "gwen@example.org"


def _won(s: Signers) -> CampaignEvent:
    return campaign.mark_won(s.organiser, s.petition, "The studio said yes.")


def _milestone(s: Signers) -> CampaignEvent:
    # The fixture's two signatures reach the goal of 2.
    (event,) = campaign.record_milestones(s.petition)
    return event


def _news(s: Signers) -> CampaignEvent:
    post = make_news_post(s.organiser, petition_ids=[s.petition.id], commit=False)
    return db.session.scalar(sa.select(CampaignEvent).where(CampaignEvent.news_post_id == post.id))


def _story_update(s: Signers) -> CampaignEvent:
    post = make_news_post(s.organiser, petition_ids=[s.petition.id], is_developing=True)
    db.session.execute(sa.delete(CampaignMail))  # the post's own mail: not this test's subject
    update = news.add_update(s.organiser, post, "The meeting is on Friday.", email=True)
    return db.session.scalar(
        sa.select(CampaignEvent).where(CampaignEvent.key == f"update:{update.id}")
    )


def _delivery(s: Signers) -> CampaignEvent:
    data = campaign.DeliveryInput("Jane Doe, the studio", None, "in_person", "Handed over.", True)
    delivery = campaign.record_delivery(s.organiser, s.petition, data)
    return db.session.scalar(
        sa.select(CampaignEvent).where(CampaignEvent.key == f"delivery:{delivery.id}")
    )


def _response(s: Signers) -> CampaignEvent:
    _link, token = campaign.create_response_link(s.organiser, s.petition, "Jane Doe")
    campaign.use_response_link(token, responder="Jane Doe, studio", body="We are listening.")
    return db.session.scalar(sa.select(CampaignEvent).where(CampaignEvent.kind == "response"))


def _response_elsewhere(s: Signers) -> CampaignEvent:
    campaign.post_response_elsewhere(
        s.organiser,
        s.petition,
        responder="The studio's spokesperson",
        body="No plans yet.",
        source_url="https://example.org/statement",
    )
    return db.session.scalar(sa.select(CampaignEvent).where(CampaignEvent.kind == "response"))


EVENTS: dict[str, Callable[[Signers], CampaignEvent]] = {
    "won": _won,
    "milestone": _milestone,
    "news": _news,
    "story_update": _story_update,
    "delivery": _delivery,
    "response": _response,
    "response_elsewhere": _response_elsewhere,
}
WANTS = [(True, True), (True, False), (False, True), (False, False)]


@pytest.mark.parametrize("signers", WANTS, indirect=True, ids=lambda w: f"member{w[0]}-guest{w[1]}")
@pytest.mark.parametrize("event_name", list(EVENTS))
def test_each_event_mails_exactly_the_signers_who_asked(
    signers: Signers, event_name: str, outbox: list[Any]
) -> None:
    member_wants = signers.member_signature.keep_updated
    guest_wants = signers.guest_signature.keep_updated
    outbox.clear()
    event = EVENTS[event_name](signers)
    db.session.commit()
    expected = sorted([GUEST] * guest_wants + [MEMBER] * member_wants)
    assert queued_to(event.id) == expected
    assert event.mailed == len(expected)
    assert run_worker() == (len(expected), 0)
    assert sorted(m["To"] for m in outbox) == expected
    for message in outbox:
        assert message["List-Unsubscribe"].startswith("<http://localhost/unsubscribe/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        kinds = [part.get_content_type() for part in message.iter_parts()]
        assert kinds == ["text/plain", "text/html"]
        text = message.get_body(("plain",)).get_content()
        assert signers.petition.title in text
        assert "/signatures/manage/" in text
    assert run_worker() == (0, 0)  # sent once


def test_queueing_is_one_statement_whatever_the_number_of_signers(signers: Signers) -> None:
    for n in range(30):
        sign_guest(signers.petition, f"fan{n}@example.net", keep_updated=True)
    db.session.commit()
    statements: list[str] = []

    def note(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        event = campaign._record(signers.petition, "won", "Victory!")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO CAMPAIGN_MAILS")]
    assert len(inserts) == 1 and "SELECT" in inserts[0].upper()
    assert event.mailed == 32


def test_a_signer_opted_out_of_all_campaign_mail_gets_none(signers: Signers) -> None:
    db.session.add(CampaignOptOut(email_normalised=GUEST))
    event = _won(signers)
    assert queued_to(event.id) == [MEMBER]


def test_unconfirmed_and_withdrawn_signers_get_no_mail(signers: Signers) -> None:
    petitions.sign_as_guest(
        signers.petition,
        name="Late",
        email="late@example.org",
        keep_updated=True,
        consent=True,
        secret_key=SECRET,
        base_url="http://localhost",
    )
    petitions.withdraw_signature(signers.member, signers.petition)
    event = _won(signers)
    assert queued_to(event.id) == [GUEST]


# Milestones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "mailed"), [("all", [True, True]), ("goal", [True, False]), ("none", [False, False])]
)
def test_milestone_mail_follows_the_organisers_choice(
    signers: Signers, choice: str, mailed: list[bool]
) -> None:
    campaign.set_milestone_mail(signers.organiser, signers.petition, choice)
    (goal,) = campaign.record_milestones(signers.petition)  # the goal of 2
    signers.petition.goal = 3  # the next event is a milestone that is not the goal
    db.session.flush()
    sign_guest(signers.petition, "third@example.org", keep_updated=True)
    (other,) = campaign.record_milestones(signers.petition)
    assert [goal.mailed > 0, other.mailed > 0] == [mailed[0], choice == "goal" or mailed[0]]


def test_a_milestone_is_recorded_once(signers: Signers) -> None:
    assert len(campaign.record_milestones(signers.petition)) == 1
    assert campaign.record_milestones(signers.petition) == []
    assert campaign.sweep_milestones() == 0


def test_many_milestones_at_once_mail_only_the_highest(signers: Signers) -> None:
    campaign.set_milestone_mail(signers.organiser, signers.petition, "all")
    db.session.execute(
        sa.update(Petition).where(Petition.id == signers.petition.id).values(signature_base=600)
    )
    db.session.expire(signers.petition)
    events = campaign.record_milestones(signers.petition)
    assert [(e.milestone, e.mailed > 0) for e in events] == [(2, False), (100, False), (500, True)]


# Status changes, audit log, timeline -----------------------------------------------------


def _audit() -> list[str]:
    return list(
        db.session.scalars(sa.select(ModerationAction.action).order_by(ModerationAction.id))
    )


def test_close_reopen_won_are_on_the_timeline_and_in_the_audit_log(signers: Signers) -> None:
    campaign.close(signers.organiser, signers.petition)
    campaign.reopen(signers.organiser, signers.petition)
    assert signers.petition.status == "open"
    _won(signers)
    kinds = [e.kind for e in campaign.timeline(signers.petition)]
    assert kinds == ["opened", "closed", "reopened", "won"]
    assert _audit() == ["close_petition", "reopen_petition", "won_petition"]


def test_members_cannot_run_the_campaign(signers: Signers) -> None:
    with pytest.raises(NotAllowed):
        campaign.close(signers.member, signers.petition)
    with pytest.raises(NotAllowed):
        campaign.create_response_link(signers.member, signers.petition, "Jane")
    assert _audit() == []


def test_a_petition_past_its_deadline_shows_closed_on_the_timeline(signers: Signers) -> None:
    signers.petition.deadline = utcnow()
    assert [e.kind for e in campaign.timeline(signers.petition)] == ["opened", "closed"]


def test_scheduled_news_is_on_the_timeline_and_mailed_only_when_due(signers: Signers) -> None:
    later = utcnow() + timedelta(hours=2)
    make_news_post(
        signers.organiser, petition_ids=[signers.petition.id], publish="schedule", publish_at=later
    )
    assert [e.kind for e in campaign.timeline(signers.petition)] == ["opened"]
    assert run_worker() == (0, 0)
    assert len(queued_to()) == 2


def test_delivery_keeps_the_count_by_country_and_the_signed_checkpoint(
    signers: Signers,
) -> None:
    db.session.execute(
        sa.update(Signature).where(Signature.id == signers.member_signature.id).values(country="GB")
    )
    data = campaign.DeliveryInput("The studio", None, "post", "", True)
    delivery = campaign.record_delivery(signers.organiser, signers.petition, data)
    assert delivery.signature_count == 2
    assert delivery.countries == {"GB": 1, "": 1}
    checkpoint = json.loads(delivery.checkpoint)
    assert checkpoint["event"] == "delivered"
    assert checkpoint["standing_count"] == delivery.signature_count == 2
    from fancampaign.ledger.services import latest_checkpoint

    assert latest_checkpoint(signers.petition.id).as_record() == checkpoint
    (delivered,) = [e for e in campaign.timeline(signers.petition) if e.kind == "delivered"]
    assert f"log checkpoint {checkpoint['number']}" in delivered.title
    assert _audit() == ["deliver_petition"]


def test_delivery_input_is_checked(signers: Signers) -> None:
    with pytest.raises(InvalidInput) as err:
        campaign.record_delivery(
            signers.organiser, signers.petition, campaign.DeliveryInput("", None, "post", "", True)
        )
    assert err.value.details["field"] == "recipient"
    with pytest.raises(InvalidInput):
        campaign.record_delivery(
            signers.organiser,
            signers.petition,
            campaign.DeliveryInput("Studio", None, "pigeon", "", True),
        )


# Response links --------------------------------------------------------------------------


def test_a_response_link_works_once(signers: Signers) -> None:
    _link, token = campaign.create_response_link(signers.organiser, signers.petition, "Jane")
    campaign.use_response_link(token)
    with pytest.raises(campaign.LinkUsed):
        campaign.use_response_link(token, responder="Jane", body="A second answer.")
    assert [e.kind for e in campaign.timeline(signers.petition)] == ["opened", "acknowledged"]
    assert _audit() == ["response_link", "response_link_used"]
    assert campaign.responses(signers.petition) == []


def test_an_expired_or_unknown_response_link_is_refused(signers: Signers) -> None:
    link, token = campaign.create_response_link(signers.organiser, signers.petition, "Jane")
    link.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(InvalidToken):
        campaign.use_response_link(token)
    with pytest.raises(InvalidToken):
        campaign.response_link_for("not-a-token")


def test_the_targets_response_is_marked_as_from_the_target(signers: Signers) -> None:
    _response(signers)
    (response,) = campaign.responses(signers.petition)
    assert (response.source, response.responder) == ("target", "Jane Doe, studio")


def test_a_response_from_elsewhere_needs_its_source(signers: Signers) -> None:
    with pytest.raises(InvalidInput) as err:
        campaign.post_response_elsewhere(
            signers.organiser, signers.petition, responder="Studio", body="No.", source_url="ftp:x"
        )
    assert err.value.details["field"] == "source_url"


# Manage and unsubscribe links --------------------------------------------------------------


def test_the_manage_link_withdraws_and_stops_working(signers: Signers) -> None:
    token = petitions.manage_token(signers.guest_signature, SECRET)
    campaign.withdraw_by_link(token, SECRET)
    assert signers.petition.signature_count == 1
    with pytest.raises(InvalidToken):
        campaign.signature_for_manage(token, SECRET)


def test_the_manage_link_turns_updates_off_and_drops_waiting_mail(signers: Signers) -> None:
    _won(signers)
    token = petitions.manage_token(signers.guest_signature, SECRET)
    campaign.updates_off_by_link(token, SECRET)
    assert signers.guest_signature.keep_updated is False
    assert queued_to() == [MEMBER]


def test_a_tampered_manage_link_is_refused(signers: Signers) -> None:
    token = petitions.manage_token(signers.guest_signature, SECRET)
    with pytest.raises(InvalidToken):
        campaign.signature_for_manage(token[:-2] + "xx", SECRET)
    with pytest.raises(InvalidToken):
        campaign.signature_for_manage(token, "another-secret")


def test_unsubscribe_from_one_petition(signers: Signers) -> None:
    _won(signers)
    run_worker()
    mail = db.session.scalar(sa.select(CampaignMail).where(CampaignMail.email == GUEST))
    campaign.unsubscribe(campaign.unsubscribe_token(mail.id, "petition", SECRET), SECRET)
    assert signers.guest_signature.keep_updated is False
    assert db.session.get(CampaignOptOut, GUEST) is None


def test_unsubscribe_from_all_campaign_mail(signers: Signers) -> None:
    _won(signers)
    run_worker()
    mail = db.session.scalar(sa.select(CampaignMail).where(CampaignMail.email == GUEST))
    campaign.unsubscribe(campaign.unsubscribe_token(mail.id, "all", SECRET), SECRET)
    assert db.session.get(CampaignOptOut, GUEST) is not None
    other = campaign._record(signers.petition, "delivered", "Delivered")
    assert queued_to(other.id) == [MEMBER]


def test_a_reused_or_forged_unsubscribe_link_changes_nothing(signers: Signers) -> None:
    _won(signers)
    run_worker()
    mail = db.session.scalar(sa.select(CampaignMail).where(CampaignMail.email == MEMBER))
    token = campaign.unsubscribe_token(mail.id, "all", SECRET)
    campaign.unsubscribe(token, SECRET)
    db.session.commit()
    with pytest.raises(campaign.LinkUsed):
        campaign.unsubscribe(token, SECRET)
    with pytest.raises(InvalidToken):
        campaign.unsubscribe(campaign.unsubscribe_token(mail.id, "all", "forged"), SECRET)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignOptOut)) == 1


def test_the_worker_keeps_under_the_per_minute_ceiling(app: Any, signers: Signers) -> None:
    app.config["CAMPAIGN_MAIL_PER_MINUTE"] = 1
    _won(signers)
    db.session.commit()
    assert mailer.send_batch() == (1, 0)
    assert mailer.send_batch() == (0, 0)
    assert mailer.pending() == 1


def test_a_member_signer_is_greeted_by_their_name(signers: Signers, outbox: list[Any]) -> None:
    user = make_user("zed", display_name="Zed Zero")
    petitions.sign_petition(user, signers.petition, keep_updated=True)
    outbox.clear()
    _won(signers)
    db.session.commit()
    run_worker()
    (message,) = [m for m in outbox if m["To"] == "zed@example.com"]
    assert "Hello Zed Zero," in message.get_body(("plain",)).get_content()
