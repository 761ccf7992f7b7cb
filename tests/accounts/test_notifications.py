"""In-app notifications, and the email that goes with them when the user asked for it."""

from __future__ import annotations

import sqlalchemy as sa

from fancampaign.accounts import services as accounts
from fancampaign.extensions import db
from fancampaign.mail.models import OutboxMessage
from fancampaign.notifications import services
from fancampaign.notifications.models import Notification
from tests.factories import make_user


def mail_to() -> list[str]:
    return list(db.session.scalars(sa.select(OutboxMessage.to).order_by(OutboxMessage.id)))


def test_notify_adds_an_unread_notification_and_likes_are_not_emailed_by_default(app):
    hugo = make_user("hugo")
    zapan = make_user("zapan")
    note = services.notify(hugo, "like", "zapan liked your post", "/forum/p/1", actor=zapan)
    assert note is not None and note.is_unread
    assert services.unread_count(hugo) == 1
    assert mail_to() == []


def test_notify_emails_what_is_addressed_to_you_by_default(app):
    hugo = make_user("hugo")
    services.notify(hugo, "mention", "zapan mentioned you", "/forum/t/1", base_url="http://site")
    assert mail_to() == ["hugo@example.com"]
    body = db.session.scalar(sa.select(OutboxMessage.body))
    assert "http://site/forum/t/1" in body


def test_notification_mail_links_are_absolute_on_base_url(app):
    hugo = make_user("hugo")
    services.notify(hugo, "reply", "zapan replied to you", "/forum/t/1", actor=make_user("zapan"))
    body = db.session.scalar(sa.select(OutboxMessage.body))
    assert "\nhttp://localhost/forum/t/1\n" in body


def test_moderation_decisions_are_emailed_by_default_but_never_to_unconfirmed_addresses(app):
    hugo = make_user("hugo")
    services.notify(hugo, "moderation", "Your post was hidden", "/forum/t/1")
    unconfirmed = make_user("koyomi", confirmed=False)
    services.notify(unconfirmed, "moderation", "Your post was hidden", "/forum/t/1")
    assert mail_to() == ["hugo@example.com"]


def test_nobody_is_notified_of_their_own_action_or_after_deletion(app):
    hugo = make_user("hugo")
    assert services.notify(hugo, "reply", "you replied", actor=hugo) is None
    accounts.erase_user(hugo)
    assert services.notify(hugo, "reply", "someone replied") is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_mark_read_marks_one_or_all_and_only_the_users_own(app):
    hugo = make_user("hugo")
    zapan = make_user("zapan")
    first = services.notify(hugo, "reply", "one")
    services.notify(hugo, "reply", "two")
    theirs = services.notify(zapan, "reply", "theirs")
    assert services.mark_read(hugo, theirs.id) == 0
    assert services.mark_read(hugo, first.id) == 1
    assert services.unread_count(hugo) == 1
    assert services.mark_read(hugo) == 1
    assert services.unread_count(hugo) == 0
    assert services.unread_count(zapan) == 1


def test_the_notifications_page_lists_and_marks_read(client, login):
    hugo = make_user("hugo")
    services.notify(hugo, "reply", "zapan replied to you", "/forum/t/1")
    db.session.commit()
    login(hugo)
    page = client.get("/notifications")
    assert page.status_code == 200
    assert "zapan replied to you" in page.get_data(as_text=True)
    note_id = db.session.scalar(sa.select(Notification.id))
    response = client.post("/notifications", data={"id": str(note_id), "next": "/forum/t/1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/forum/t/1"
    db.session.expire_all()
    assert services.unread_count(hugo) == 0


def test_the_notifications_page_never_redirects_off_site(client, login):
    hugo = make_user("hugo")
    note = services.notify(hugo, "reply", "x", "/forum/t/1")
    db.session.commit()
    login(hugo)
    response = client.post("/notifications", data={"id": str(note.id), "next": "//evil.example"})
    assert response.headers["Location"] == "/notifications"


def test_the_notifications_page_needs_a_login(client):
    response = client.get("/notifications")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_export_my_data_includes_my_notifications(app):
    hugo = make_user("hugo")
    services.notify(hugo, "reply", "zapan replied to you", "/forum/t/1")
    data = accounts.export_data(hugo)
    assert [n["text"] for n in data["notifications"]] == ["zapan replied to you"]


def test_deleting_an_account_deletes_its_notifications(app):
    hugo = make_user("hugo")
    zapan = make_user("zapan")
    services.notify(hugo, "reply", "zapan replied to you", actor=zapan)
    services.notify(zapan, "reply", "hugo replied to you", actor=hugo)
    accounts.erase_user(hugo)
    db.session.commit()
    left = db.session.scalars(sa.select(Notification)).all()
    assert [n.user_id for n in left] == [zapan.id]
    assert left[0].actor.name == "deleted user"
