"""Appeals: once, by the person affected, decided by another moderator, logged and told."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role, User
from fancampaign.extensions import db
from fancampaign.forum.models import Post
from fancampaign.moderation import appeals
from fancampaign.moderation.models import Appeal, ModerationAction
from fancampaign.moderation.services import delete_item, get_item, hide_item, sanction_user
from fancampaign.notifications.models import Notification
from tests.factories import make_category, make_reply, make_thread, make_user


@pytest.fixture
def people(app):
    return {
        "first": make_user("gelda", role=Role.MODERATOR),
        "second": make_user("ido", role=Role.MODERATOR),
        "author": make_user("gally"),
        "other": make_user("zapan"),
    }


def _hidden_post(people):
    thread = make_thread(people["other"], make_category())
    post = make_reply(people["author"], thread, "A fair point about Zalem.")
    hide_item(people["first"], get_item("post", post.id), "Looked like spam")
    db.session.commit()
    return post


def _actions(name):
    return list(
        db.session.scalars(sa.select(ModerationAction).where(ModerationAction.action == name))
    )


def test_the_author_appeals_from_the_post_and_it_reaches_the_queue(client, login, people):
    post = _hidden_post(people)
    login(people["author"])
    thread_page = client.get(f"/forum/t/{post.thread_id}").get_data(as_text=True)
    assert f"/moderation/appeal/post/{post.id}" in thread_page
    response = client.post(f"/moderation/appeal/post/{post.id}", data={"note": "It was not spam"})
    assert response.status_code == 302
    (appeal,) = db.session.scalars(sa.select(Appeal))
    assert appeal.appellant_id == people["author"].id and appeal.is_open
    assert len(_actions("appeal")) == 1
    login(people["second"])
    queue = client.get("/moderation?tab=appeals").get_data(as_text=True)
    assert "Appeals (1)" in queue and f"/moderation/appeals/{appeal.id}" in queue


def test_an_appeal_is_made_once(people):
    post = _hidden_post(people)
    action = appeals.appealable(people["author"], "post", post.id)
    appeals.make_appeal(people["author"], action, "Please look again")
    with pytest.raises(appeals.AlreadyAppealed):
        appeals.make_appeal(people["author"], action, "And again")


def test_only_the_person_affected_appeals(people):
    post = _hidden_post(people)
    with pytest.raises(appeals.NotAppealable):
        appeals.appealable(people["other"], "post", post.id)


def test_the_moderator_who_acted_cannot_decide_the_appeal(people, client, login):
    post = _hidden_post(people)
    appeal = appeals.make_appeal(
        people["author"], appeals.appealable(people["author"], "post", post.id), "Not spam"
    )
    db.session.commit()
    with pytest.raises(appeals.SameModerator):
        appeals.decide_appeal(people["first"], appeal, True, "I was right to")
    login(people["first"])
    response = client.post(
        f"/moderation/appeals/{appeal.id}/decide", data={"outcome": "uphold", "reason": "Mine"}
    )
    assert response.status_code == 403
    assert db.session.get(Appeal, appeal.id).is_open


def test_an_upheld_appeal_restores_the_post_and_is_told_and_logged(people, client, login):
    post = _hidden_post(people)
    appeal = appeals.make_appeal(
        people["author"], appeals.appealable(people["author"], "post", post.id), "Not spam"
    )
    db.session.commit()
    login(people["second"])
    response = client.post(
        f"/moderation/appeals/{appeal.id}/decide",
        data={"outcome": "uphold", "reason": "It is on topic"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Post, post.id).is_hidden
    assert db.session.get(Appeal, appeal.id).status == "upheld"
    assert len(_actions("uphold_appeal")) == 1 and len(_actions("restore")) == 1
    told = db.session.scalars(
        sa.select(Notification.text).where(Notification.user_id == people["author"].id)
    ).all()
    assert any("appeal" in text and "upheld" in text for text in told)


def test_an_upheld_appeal_undoes_a_deletion(people):
    thread = make_thread(people["other"], make_category())
    post = make_reply(people["author"], thread, "Deleted in error.")
    delete_item(people["first"], get_item("post", post.id), "Duplicate")
    appeal = appeals.make_appeal(
        people["author"], appeals.appealable(people["author"], "post", post.id), "Not a dupe"
    )
    appeals.decide_appeal(people["second"], appeal, True, "Indeed not")
    db.session.commit()
    assert not db.session.get(Post, post.id).is_deleted


def test_an_upheld_appeal_lifts_a_suspension(people):
    sanction_user(people["first"], people["author"], "suspend", "Heated", period="1w")
    db.session.commit()
    action = appeals.appealable(people["author"], "user", people["author"].id)
    appeal = appeals.make_appeal(people["author"], action, "I was provoked")
    appeals.decide_appeal(people["second"], appeal, True, "Fair enough")
    db.session.commit()
    assert not db.session.get(User, people["author"].id).is_suspended
    assert len(_actions("lift")) == 1


def test_a_rejected_appeal_leaves_the_decision(people):
    post = _hidden_post(people)
    appeal = appeals.make_appeal(
        people["author"], appeals.appealable(people["author"], "post", post.id), "Not spam"
    )
    appeals.decide_appeal(people["second"], appeal, False, "It is spam")
    db.session.commit()
    assert db.session.get(Post, post.id).is_hidden
    assert len(_actions("reject_appeal")) == 1


def test_a_member_cannot_see_another_members_appeal(people, client, login):
    post = _hidden_post(people)
    appeal = appeals.make_appeal(
        people["author"], appeals.appealable(people["author"], "post", post.id), "Not spam"
    )
    db.session.commit()
    login(people["other"])
    assert client.get(f"/moderation/appeals/{appeal.id}").status_code == 404
    login(people["author"])
    assert "Not spam" in client.get(f"/moderation/appeals/{appeal.id}").get_data(as_text=True)
    login(people["second"])
    assert client.get(f"/moderation/appeals/{appeal.id}").status_code == 200


def test_an_appeal_needs_a_note(people, client, login):
    post = _hidden_post(people)
    login(people["author"])
    response = client.post(f"/moderation/appeal/post/{post.id}", data={"note": ""})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Appeal)) == 0
