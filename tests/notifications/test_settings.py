"""Per-type choices: in the app, email, digest or off, applied by notify() for every producer."""

from __future__ import annotations

import pytest

from fancampaign.errors import InvalidInput
from fancampaign.extensions import db
from fancampaign.forum import services as forum
from fancampaign.notifications import services
from fancampaign.notifications.models import DEFAULTS, NotificationEmail
from tests.factories import make_user
from tests.notifications.conftest import notes, outbox


def test_defaults_are_discourse_like(app):
    member = make_user()
    assert services.channels_for(member) == DEFAULTS
    assert DEFAULTS["reply"] == DEFAULTS["mention"] == DEFAULTS["quote"] == "email"
    assert DEFAULTS["like"] == "app"


def test_off_adds_nothing_and_app_sends_no_mail(app):
    hugo, zapan = make_user("hugo"), make_user("zapan")
    services.save_preferences(hugo, {"mention": "off", "quote": "app"}, "weekly")
    assert services.notify(hugo, "mention", "zapan mentioned you", actor=zapan) is None
    assert services.notify(hugo, "quote", "zapan quoted you", actor=zapan) is not None
    assert [n.kind for n in notes(hugo)] == ["quote"]
    assert outbox() == []


def test_moderation_cannot_be_turned_off_and_unknown_channels_are_refused(app):
    hugo = make_user("hugo")
    with pytest.raises(InvalidInput):
        services.save_preferences(hugo, {"moderation": "off"}, "weekly")
    with pytest.raises(InvalidInput):
        services.save_preferences(hugo, {"like": "pigeon"}, "weekly")
    with pytest.raises(InvalidInput):
        services.save_preferences(hugo, {}, "hourly")


def test_report_thanks_follow_the_moderation_choice(app):
    hugo = make_user("hugo")
    services.save_preferences(hugo, {"moderation": "app"}, "weekly")
    services.notify(hugo, "report", "Thanks for your report")
    assert len(notes(hugo)) == 1
    assert outbox() == []


def test_forum_replies_follow_the_choice(forum):
    services.save_preferences(forum.alita, {"reply": "off"}, "weekly")
    db.session.commit()
    forum_reply = forum_reply_by(forum.koyomi, forum.thread)
    assert forum_reply is not None
    assert notes(forum.alita) == []
    assert db.session.query(NotificationEmail).count() == 0


def forum_reply_by(user, thread, body="Count me in."):
    post = forum.reply(user, thread, body)
    db.session.commit()
    return post


def test_the_settings_page_saves_each_choice(client, login):
    hugo = login(make_user("hugo"))
    page = client.get("/settings/notifications")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Likes of your posts" in html and 'name="like"' in html
    assert html.count("<label") >= len(DEFAULTS) * 3  # every radio has its visible label
    data = {**DEFAULTS, "like": "off", "watching": "digest", "digest": "daily"}
    response = client.post("/settings/notifications", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    assert services.channels_for(hugo)["like"] == "off"
    assert services.channels_for(hugo)["watching"] == "digest"
    assert services.digest_frequency(hugo) == "daily"
    assert services.preferences(hugo).wants_digest is True


def test_the_settings_page_refuses_a_made_up_channel(client, login):
    login(make_user("hugo"))
    response = client.post("/settings/notifications", data={**DEFAULTS, "moderation": "off"})
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_the_settings_page_needs_a_login(client):
    assert client.get("/settings/notifications").headers["Location"].startswith("/login")


def test_the_account_settings_link_to_the_notification_settings(client, login):
    login(make_user("hugo"))
    assert 'href="/settings/notifications"' in client.get("/settings").get_data(as_text=True)
