"""Petition updates reach member signers in the app (their mail is the campaign mail they chose
when signing), unless they turned petition updates off; a scheduled one when its time comes,
exactly once whatever the worker does."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from fancampaign.campaign import mailer
from fancampaign.campaign import services as campaign
from fancampaign.campaign.models import CampaignEvent
from fancampaign.errors import InvalidInput
from fancampaign.extensions import db, utcnow
from fancampaign.notifications import services
from fancampaign.petitions import services as petitions
from tests.factories import make_petition, make_user
from tests.notifications.conftest import notes


def test_member_signers_who_asked_for_updates_hear_of_them_in_the_app(app):
    petition = make_petition(title="Make the sequel")
    keen, quiet, silent = make_user("keen"), make_user("quiet"), make_user("silent")
    petitions.sign_petition(keen, petition, keep_updated=True)
    petitions.sign_petition(quiet, petition, keep_updated=False)
    petitions.sign_petition(silent, petition, keep_updated=True)
    services.save_preferences(silent, {"petition_update": "off"}, "weekly")
    db.session.commit()
    campaign._record(petition, "won", "Victory!")
    db.session.commit()
    [note] = notes(keen)
    assert note.kind == "petition_update"
    assert note.text == "Update on “Make the sequel”: Victory!"
    assert note.url == f"/petitions/{petition.slug}"
    assert notes(quiet) == [] and notes(silent) == []


def test_petition_updates_are_in_the_app_or_off(app):
    with pytest.raises(InvalidInput):
        services.save_preferences(make_user(), {"petition_update": "email"}, "weekly")


@pytest.fixture
def keen(app):
    """A member who signed "Make the sequel" and asked for updates."""
    petition = make_petition(title="Make the sequel")
    member = make_user("keen")
    petitions.sign_petition(member, petition, keep_updated=True)
    db.session.commit()
    return SimpleNamespace(member=member, petition=petition)


def schedule(petition, title="Trailer out", hours=2):
    event = campaign._record(petition, "news", title, not_before=utcnow() + timedelta(hours=hours))
    db.session.commit()
    return event


def told(member):
    return [n.text for n in notes(member) if n.kind == "petition_update"]


def test_a_scheduled_update_is_told_in_the_app_when_its_time_comes(keen):
    schedule(keen.petition, hours=2)
    assert campaign.tell_due() == 0
    assert told(keen.member) == []
    assert campaign.tell_due(utcnow() + timedelta(hours=3)) == 1
    db.session.commit()
    assert told(keen.member) == ["Update on “Make the sequel”: Trailer out"]


def test_a_scheduled_update_is_told_once_however_often_the_worker_runs(keen):
    schedule(keen.petition, hours=2)
    due = utcnow() + timedelta(hours=3)
    assert [campaign.tell_due(due), campaign.tell_due(due), campaign.tell_due(due)] == [1, 0, 0]
    db.session.commit()
    assert len(told(keen.member)) == 1


def test_updates_told_at_once_or_never_are_not_told_again_by_the_worker(keen):
    campaign._record(keen.petition, "won", "Victory!")
    campaign._record(keen.petition, "closed", "Closed", mail=False)
    db.session.commit()
    assert campaign.tell_due(utcnow() + timedelta(days=1)) == 0
    assert told(keen.member) == ["Update on “Make the sequel”: Victory!"]


def test_the_worker_round_tells_a_scheduled_update_that_came_due(keen):
    event = schedule(keen.petition)
    mailer.work_once()
    assert told(keen.member) == []
    _came_due(event)
    mailer.work_once()
    mailer.work_once()
    assert told(keen.member) == ["Update on “Make the sequel”: Trailer out"]


def test_a_worker_killed_before_its_commit_leaves_the_update_to_the_next_round(keen, monkeypatch):
    event = _came_due(schedule(keen.petition))

    def killed(*_args, **_kw):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(campaign.notifications, "notify_all", killed)
    mailer.work_once()  # the round's sweep fails and rolls back
    monkeypatch.undo()
    assert db.session.get(CampaignEvent, event.id).told_at is None
    assert told(keen.member) == []
    mailer.work_once()
    assert told(keen.member) == ["Update on “Make the sequel”: Trailer out"]


def test_two_workers_at_once_tell_a_scheduled_update_once(app, keen, monkeypatch):
    event = _came_due(schedule(keen.petition))
    claimed = threading.Event()
    tell = campaign._tell_signers

    def slow_tell(*args, **kw):
        tell(*args, **kw)
        claimed.set()  # the first worker holds its claim, uncommitted, for a moment
        time.sleep(0.5)

    monkeypatch.setattr(campaign, "_tell_signers", slow_tell)
    results: dict[str, int] = {}

    def worker(name: str, wait: bool) -> None:
        with app.app_context():
            if wait:
                claimed.wait(timeout=10)
            results[name] = campaign.tell_due()
            db.session.commit()

    first = threading.Thread(target=worker, args=("first", False))
    second = threading.Thread(target=worker, args=("second", True))
    first.start()
    second.start()
    first.join(timeout=60)
    second.join(timeout=60)
    assert results == {"first": 1, "second": 0}
    db.session.expire_all()
    assert db.session.get(CampaignEvent, event.id).told_at is not None
    assert told(keen.member) == ["Update on “Make the sequel”: Trailer out"]


def _came_due(event):
    """The scheduled time has come (as if the clock had moved on)."""
    db.session.execute(
        sa.update(CampaignEvent)
        .where(CampaignEvent.id == event.id)
        .values(occurred_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    return event
