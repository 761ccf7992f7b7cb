"""A reply to a post tells that post's author, as in Discourse ("X replied to your post"), once,
never its own writer, not when they muted the thread; a held reply tells nobody until
moderation releases it, and then everyone a reply tells, once."""

from __future__ import annotations

from fancampaign.extensions import db
from fancampaign.forum import services as forum_services
from fancampaign.forum import tracking
from fancampaign.moderation import services as moderation
from fancampaign.moderation import watch
from fancampaign.notifications import services
from fancampaign.notifications.models import NotificationEmail
from fancampaign.text import quote_markdown
from tests.factories import make_user
from tests.notifications.conftest import notes


def reply(user, thread, body="Count me in.", to=None):
    post = forum_services.reply(user, thread, body, reply_to=to.id if to is not None else None)
    db.session.commit()
    return post


def kinds(user):
    return [(n.kind, n.display_text) for n in notes(user) if n.kind != "moderation"]


def hold_everything(monkeypatch):
    """From now on, the watched words hold whatever is written for review."""
    monkeypatch.setattr(watch, "screen", lambda text: watch.Verdict("hold"))


def release(post):
    moderator = make_user(role="moderator")
    moderation.restore_item(moderator, moderation.get_item("post", post.id), "Fine.")
    db.session.commit()


def test_the_author_of_the_answered_post_hears_of_the_reply_linked_to_it(forum):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    answer = reply(forum.hugo, forum.thread, "Me too.", to=koyomis)
    [note] = notes(forum.koyomi)
    assert note.kind == "reply"
    assert note.text == "hugo replied to your post in “Sequel now”"
    assert note.url == f"/forum/p/{answer.id}"
    assert note.actor_id == forum.hugo.id and note.thread_id == forum.thread.id


def test_each_reply_to_my_post_is_its_own_notification(forum):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    reply(forum.hugo, forum.thread, "Me too.", to=koyomis)
    reply(forum.alita, forum.thread, "And me.", to=koyomis)
    assert kinds(forum.koyomi) == [
        ("reply", "hugo replied to your post in “Sequel now”"),
        ("reply", "alita replied to your post in “Sequel now”"),
    ]


def test_answering_your_own_post_tells_nobody_about_it(forum):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    reply(forum.koyomi, forum.thread, "And another thing.", to=koyomis)
    assert notes(forum.koyomi) == []


def test_the_thread_author_answered_on_their_post_hears_once_the_specific_way(forum):
    first = forum_services.first_post(forum.thread)
    reply(forum.koyomi, forum.thread, "Me!", to=first)
    assert kinds(forum.alita) == [("reply", "koyomi replied to your post in “Sequel now”")]


def test_the_thread_author_still_hears_of_replies_to_other_posts_grouped(forum):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")  # alita: 1 new reply
    reply(forum.hugo, forum.thread, "Me too.", to=koyomis)  # alita: 2 new replies
    assert kinds(forum.alita) == [("reply", "2 new replies in “Sequel now”")]
    assert kinds(forum.koyomi) == [("reply", "hugo replied to your post in “Sequel now”")]


def test_a_quoted_or_mentioned_author_is_told_once_as_quoted_or_mentioned(forum):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    quoting = quote_markdown("koyomi", koyomis.body, koyomis.id) + "Agreed."
    reply(forum.hugo, forum.thread, quoting, to=koyomis)
    reply(forum.hugo, forum.thread, "@koyomi and you?", to=koyomis)
    assert [kind for kind, _text in kinds(forum.koyomi)] == ["quote", "mention"]


def test_a_member_who_muted_the_thread_hears_nothing_of_replies_to_their_post(forum):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    tracking.set_thread_level(forum.koyomi, forum.thread, "muted")
    db.session.commit()
    reply(forum.hugo, forum.thread, "Me too.", to=koyomis)
    assert notes(forum.koyomi) == []
    assert not db.session.scalars(
        db.select(NotificationEmail).where(NotificationEmail.user_id == forum.koyomi.id)
    ).all()


def test_replies_to_my_posts_follow_my_replies_setting(forum):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    services.save_preferences(forum.koyomi, {"reply": "off"}, "weekly")
    reply(forum.hugo, forum.thread, "Me too.", to=koyomis)
    assert notes(forum.koyomi) == []
    services.save_preferences(forum.koyomi, {"reply": "email"}, "weekly")
    reply(forum.alita, forum.thread, "And me.", to=koyomis)
    [note] = notes(forum.koyomi)
    assert note.kind == "reply"
    [mail] = db.session.scalars(
        db.select(NotificationEmail).where(NotificationEmail.user_id == forum.koyomi.id)
    )
    assert mail.batch_key == f"thread:{forum.thread.id}"
    assert mail.lines == "alita: And me.\n"


def test_a_watcher_answered_on_their_post_hears_once_the_specific_way(forum):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    tracking.set_thread_level(forum.koyomi, forum.thread, "watching")
    db.session.commit()
    reply(forum.hugo, forum.thread, "Me too.", to=koyomis)
    assert [kind for kind, _text in kinds(forum.koyomi)] == ["reply"]


def test_a_held_reply_tells_nobody_until_released_then_everyone_once(forum, monkeypatch):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    tracking.set_thread_level(forum.hugo, forum.thread, "watching")
    services.mark_read(forum.alita)
    db.session.commit()
    hold_everything(monkeypatch)
    pending = reply(make_user("newbie"), forum.thread, "@hugo yes!", to=koyomis)
    monkeypatch.undo()
    assert pending.is_held
    assert notes(forum.koyomi) == [] and notes(forum.hugo) == []
    assert [n for n in notes(forum.alita) if n.read_at is None] == []
    release(pending)
    assert kinds(forum.koyomi) == [("reply", "newbie replied to your post in “Sequel now”")]
    assert [kind for kind, _text in kinds(forum.hugo)] == ["mention"]
    assert [n.kind for n in notes(forum.alita) if n.read_at is None] == ["reply"]
    # Hidden and restored again, it is old news: nobody is told twice.
    moderator = make_user(role="moderator")
    moderation.hide_item(moderator, moderation.get_item("post", pending.id), "Hmm.")
    moderation.restore_item(moderator, moderation.get_item("post", pending.id), "Fine after all.")
    db.session.commit()
    assert len(kinds(forum.koyomi)) == 1 and len(kinds(forum.hugo)) == 1


def test_a_released_thread_tells_the_category_watchers(forum, monkeypatch):
    tracking.set_category_level(forum.hugo, forum.general, "watching")
    db.session.commit()
    hold_everything(monkeypatch)
    thread = forum_services.create_thread(forum.koyomi, forum.general, "Box office", "Numbers.")
    db.session.commit()
    monkeypatch.undo()
    assert notes(forum.hugo) == []
    release(forum_services.first_post(thread))
    assert kinds(forum.hugo) == [("new_thread", "koyomi started “Box office” in General")]


def test_a_post_held_by_an_edit_is_not_news_when_released(forum, monkeypatch):
    koyomis = reply(forum.koyomi, forum.thread, "Me!")
    answer = reply(forum.hugo, forum.thread, "Me too.", to=koyomis)
    hold_everything(monkeypatch)
    forum_services.edit_post(forum.hugo, answer, "Me too, and more.")
    db.session.commit()
    monkeypatch.undo()
    assert answer.is_held
    release(answer)
    assert kinds(forum.koyomi) == [("reply", "hugo replied to your post in “Sequel now”")]
