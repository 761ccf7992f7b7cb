"""Forum services: the rules, and the denormalised counters staying exact."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.errors import InvalidInput, NotAllowed, NotFoundError
from fancampaign.extensions import db
from fancampaign.forum import discussions, services
from fancampaign.forum.models import Category, Post, PostLike, PostRevision, Thread
from fancampaign.notifications.models import Notification
from tests.factories import make_category, make_reply, make_thread, make_user


def visible_posts(thread: Thread) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            Post.thread_id == thread.id, Post.is_hidden.is_(False), Post.is_deleted.is_(False)
        )
    )


def assert_counts_exact() -> None:
    """Every counter equals what the rows say."""
    db.session.expire_all()
    for thread in db.session.scalars(sa.select(Thread)):
        visible = visible_posts(thread)
        assert thread.post_count == visible, thread
        first_visible = db.session.scalar(
            sa.select(sa.func.count()).where(
                Post.thread_id == thread.id,
                Post.is_first.is_(True),
                Post.is_hidden.is_(False),
                Post.is_deleted.is_(False),
            )
        )
        assert thread.reply_count == visible - first_visible, thread
    for category in db.session.scalars(sa.select(Category)):
        threads = list(
            db.session.scalars(
                sa.select(Thread).where(
                    Thread.category_id == category.id, Thread.is_hidden.is_(False)
                )
            )
        )
        assert category.thread_count == len(threads), category
        assert category.post_count == sum(visible_posts(t) for t in threads), category


def notifications(user: Any) -> list[tuple[str, int | None]]:
    return [
        (n.kind, n.actor_id)
        for n in db.session.scalars(
            sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    ]


# Threads and replies ------------------------------------------------------------------------


def test_new_thread_counts_in_its_category() -> None:
    category = make_category("general")
    thread = make_thread(make_user(), category, title="Hello", body="First!")
    assert (thread.reply_count, thread.post_count) == (0, 1)
    assert (category.thread_count, category.post_count) == (1, 1)
    assert services.first_post(thread).is_first
    assert thread.slug == "hello"
    assert_counts_exact()


def test_replies_count_and_move_last_activity() -> None:
    author, replier = make_user(), make_user()
    thread = make_thread(author)
    before = thread.last_activity_at
    post = make_reply(replier, thread, "Me too")
    db.session.refresh(thread)
    assert thread.reply_count == 1
    assert thread.last_activity_at >= before
    assert thread.last_activity_at == post.created_at
    assert thread.last_poster_id == replier.id
    assert_counts_exact()


def test_post_body_is_rendered_and_sanitised_once_on_write() -> None:
    make_user("koyomi")
    thread = make_thread(
        body="Hi @koyomi and @nobody <script>alert(1)</script> <img src=x onerror=alert(1)>"
    )
    post = services.first_post(thread)
    assert '<a href="/u/koyomi" class="mention"' in post.body_html
    assert "@nobody" in post.body_html and "/u/nobody" not in post.body_html
    assert "<script" not in post.body_html and "<img" not in post.body_html


def test_title_and_body_rules() -> None:
    user, category = make_user(), make_category("general")
    for title in ["", "   ", "\u200b\u200b", "x" * 151]:
        with pytest.raises(InvalidInput):
            services.create_thread(user, category, title, "Body")
    for body in ["", " \n\t ", "x" * 50_001]:
        with pytest.raises(InvalidInput):
            services.create_thread(user, category, "Title", body)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Thread)) == 0
    assert services.create_thread(user, category, "x" * 150, "y" * 50_000)


def test_staff_only_category_takes_threads_from_organisers_up() -> None:
    announcements = make_category("announcements", staff_only=True)
    with pytest.raises(NotAllowed):
        services.create_thread(make_user(), announcements, "Hi", "Body")
    organiser = make_user(role=Role.ORGANISER)
    assert services.create_thread(organiser, announcements, "News!", "Body")


def test_locked_thread_takes_replies_from_moderators_only() -> None:
    thread = make_thread()
    thread.is_locked = True
    db.session.commit()
    with pytest.raises(services.ThreadLocked):
        services.reply(make_user(), thread, "Let me in")
    assert services.reply(make_user(role=Role.MODERATOR), thread, "Locked for a reason.")


@pytest.mark.parametrize(
    "attrs",
    [{"confirmed": False}, {"is_banned": True}, {"suspended_until": "future"}],
    ids=["unconfirmed", "banned", "suspended"],
)
def test_people_who_cannot_participate_cannot_post(attrs: dict[str, Any]) -> None:
    from datetime import timedelta

    from fancampaign.extensions import utcnow

    if attrs.get("suspended_until") == "future":
        attrs = {"suspended_until": utcnow() + timedelta(days=1)}
    user = make_user(**attrs)
    thread = make_thread()
    with pytest.raises(NotAllowed):
        services.reply(user, thread, "Hello")
    with pytest.raises(NotAllowed):
        services.create_thread(user, thread.category, "Hi", "There")


# Watched words ----------------------------------------------------------------------------


def test_blocked_words_refuse_the_post_with_the_lists_message(watched: Any) -> None:
    watched.block["badword"] = "No bad words, please."
    thread = make_thread()
    with pytest.raises(services.BlockedText, match="No bad words"):
        services.reply(make_user(), thread, "a BADWORD here")
    with pytest.raises(services.BlockedText):
        services.create_thread(make_user(), thread.category, "badword", "fine")


def test_held_reply_is_hidden_counts_nowhere_and_notifies_nobody(watched: Any) -> None:
    watched.hold.add("suspicious")
    author = make_user()
    thread = make_thread(author)
    post = services.reply(make_user(), thread, "Something suspicious")
    db.session.commit()
    assert post.is_hidden and post.is_held
    assert thread.reply_count == 0
    assert notifications(author) == []
    assert_counts_exact()
    # Moderation releases it: a recount makes it count.
    post.is_hidden = False
    post.hidden_reason = ""
    services.recount_thread(thread)
    assert thread.reply_count == 1
    assert_counts_exact()


def test_held_thread_is_hidden_with_its_first_post(watched: Any) -> None:
    watched.hold.add("suspicious")
    category = make_category("general")
    thread = services.create_thread(make_user(), category, "Suspicious offer", "Click")
    assert thread.is_hidden and thread.hidden_reason == "held"
    assert services.first_post(thread).is_held
    assert category.thread_count == 0
    assert_counts_exact()


# Notifications ----------------------------------------------------------------------------


def test_reply_mention_and_quote_notify_once_per_post_per_user() -> None:
    hugo, koyomi, zapan, chiren = (make_user(n) for n in ("hugo", "koyomi", "zapan", "chiren"))
    thread = make_thread(hugo, body="Where should the story go?")
    # zapan quotes hugo (the thread author) and mentions koyomi twice, and himself.
    body = services.first_post(thread).body
    from fancampaign.text import quote_markdown

    make_reply(zapan, thread, quote_markdown("hugo", body) + "Agree with @koyomi, @KOYOMI @zapan")
    assert notifications(hugo) == [("quote", zapan.id)]
    assert notifications(koyomi) == [("mention", zapan.id)]
    assert notifications(zapan) == []
    make_reply(chiren, thread, "Plain reply")
    assert notifications(hugo) == [("quote", zapan.id), ("reply", chiren.id)]


def test_author_replying_to_own_thread_is_not_notified() -> None:
    hugo = make_user()
    thread = make_thread(hugo)
    make_reply(hugo, thread, "Bump")
    assert notifications(hugo) == []


# Edit, delete, like -------------------------------------------------------------------------


def test_edit_keeps_the_previous_version() -> None:
    hugo = make_user()
    thread = make_thread(hugo, body="Version one")
    post = services.first_post(thread)
    services.edit_post(hugo, post, "Version two", title="New title")
    db.session.commit()
    assert post.body == "Version two" and post.edited_at is not None
    assert "Version two" in post.body_html
    assert thread.title == "New title" and thread.slug == "new-title"
    [revision] = services.revisions(post)
    assert revision.body == "Version one" and revision.editor_id == hugo.id


def test_nobody_edits_another_members_post_but_moderators() -> None:
    post = make_reply(make_user(), make_thread(), "Mine")
    with pytest.raises(NotAllowed):
        services.edit_post(make_user(), post, "Yours now")
    assert post.body == "Mine"
    services.edit_post(make_user(role=Role.MODERATOR), post, "Moderated")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PostRevision)) == 1


def test_delete_is_soft_and_recounts() -> None:
    hugo = make_user()
    thread = make_thread(replies=0)
    post = make_reply(hugo, thread, "Oops")
    other = make_reply(make_user(), thread, "Later")
    services.delete_post(hugo, post)
    db.session.commit()
    assert post.is_deleted and post.body == "Oops"
    assert thread.reply_count == 1
    assert_counts_exact()
    services.delete_post(other.author, other)
    db.session.commit()
    assert thread.reply_count == 0
    assert thread.last_poster_id == thread.author_id
    assert_counts_exact()
    with pytest.raises(NotAllowed):
        services.delete_post(hugo, post)  # twice


def test_like_toggles_one_per_user() -> None:
    post = make_reply(make_user(), make_thread())
    fan = make_user()
    assert services.toggle_like(fan, post) is True
    db.session.commit()
    assert post.like_count == 1
    assert services.toggle_like(fan, post) is False
    assert services.toggle_like(fan, post) is True
    services.toggle_like(make_user(), post)
    db.session.commit()
    assert post.like_count == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PostLike)) == 2


def test_like_is_unique_in_the_schema() -> None:
    post = make_reply(make_user(), make_thread())
    fan = make_user()
    db.session.add(PostLike(post_id=post.id, user_id=fan.id))
    db.session.flush()
    db.session.add(PostLike(post_id=post.id, user_id=fan.id))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_nobody_likes_their_own_post() -> None:
    hugo = make_user()
    post = make_reply(hugo, make_thread())
    with pytest.raises(NotAllowed):
        services.toggle_like(hugo, post)


# Moderation helpers: hide, move -----------------------------------------------------------


def test_counts_stay_exact_when_posts_and_threads_are_hidden() -> None:
    category = make_category("general")
    thread = make_thread(category=category, replies=3)
    other = make_thread(category=category, replies=1)
    assert (category.thread_count, category.post_count) == (2, 6)
    reply = db.session.scalars(
        sa.select(Post).where(Post.thread_id == thread.id, Post.is_first.is_(False))
    ).first()
    reply.is_hidden = True
    services.recount_thread(thread)
    db.session.commit()
    assert thread.reply_count == 2
    assert (category.thread_count, category.post_count) == (2, 5)
    other.is_hidden = True
    services.recount_thread(other)
    db.session.commit()
    assert (category.thread_count, category.post_count) == (1, 3)
    assert_counts_exact()


def test_move_thread_keeps_both_categories_exact() -> None:
    a, b = make_category("a"), make_category("b")
    thread = make_thread(category=a, replies=2)
    make_thread(category=b)
    services.move_thread(thread, b)
    db.session.commit()
    assert (a.thread_count, a.post_count) == (0, 0)
    assert (b.thread_count, b.post_count) == (2, 4)
    assert_counts_exact()


def test_hidden_things_are_not_found_by_others() -> None:
    author = make_user()
    thread = make_thread(author)
    thread.is_hidden = True
    db.session.commit()
    with pytest.raises(NotFoundError):
        services.get_thread(thread.id, make_user())
    assert services.get_thread(thread.id, author) is thread
    assert services.get_thread(thread.id, make_user(role=Role.MODERATOR)) is thread


# Discussions ------------------------------------------------------------------------------


class Subject:
    def __init__(self, id: int) -> None:
        self.id = id
        self.thread_id: int | None = None


def test_start_discussion_links_both_ways_and_is_idempotent() -> None:
    make_category("news-discussion")
    organiser = make_user(role=Role.ORGANISER)
    article = Subject(7)
    thread = discussions.start_discussion(
        article,
        kind="news",
        author=organiser,
        title="Alita 2: what we know",
        body="Discuss the article here.",
        category_slug="news-discussion",
    )
    assert (thread.subject_kind, thread.subject_id) == ("news", 7)
    assert article.thread_id == thread.id
    again = discussions.start_discussion(
        article, kind="news", author=organiser, title="x", body="y", category_slug="x"
    )
    assert again is thread


def _news_discussion() -> Any:
    make_category("news-discussion")
    return discussions.start_discussion(
        Subject(1),
        kind="news",
        author=make_user(role=Role.ORGANISER),
        title="Article",
        body="Intro",
        category_slug="news-discussion",
    )


def test_comments_page_lists_replies_without_the_first_post() -> None:
    thread = _news_discussion()
    fan = make_user()
    for n in range(3):
        make_reply(fan, thread, f"Comment {n}")
    page = discussions.comments_page(thread, None, 1, per_page=2)
    assert [p.body for p in page.items] == ["Comment 0", "Comment 1"]
    assert page.total == 3 and page.pages == 2


def test_latest_comments_is_the_last_comments_page() -> None:
    thread = _news_discussion()
    empty = discussions.latest_comments(thread, None, per_page=2)
    assert (empty.items, empty.total, empty.page) == ([], 0, 1)
    fan = make_user()
    for n in range(5):
        make_reply(fan, thread, f"Comment {n}")
    latest = discussions.latest_comments(thread, None, per_page=2)
    last = discussions.comments_page(thread, None, 3, per_page=2)
    assert [p.body for p in latest.items] == [p.body for p in last.items] == ["Comment 4"]
    assert (latest.total, latest.pages, latest.page) == (last.total, last.pages, 3) == (5, 3, 3)


def test_registered_subject_loads_for_its_thread() -> None:
    discussions.register_subject("test", lambda ids: {i: f"subject {i}" for i in ids}, "x.html")
    thread = make_thread()
    thread.subject_kind, thread.subject_id = "test", 5
    assert discussions.load_subject(thread) == ("subject 5", "x.html")
    discussions.SUBJECTS.pop("test")


# Categories ------------------------------------------------------------------------------


def test_only_admins_manage_categories() -> None:
    with pytest.raises(NotAllowed):
        services.save_category(make_user(role=Role.MODERATOR), None, name="New")
    admin = make_user(role=Role.ADMIN)
    category = services.save_category(admin, None, name="Fan art & creations")
    assert category.slug == "fan-art-creations"
    with pytest.raises(services.CategoryExists):
        services.save_category(admin, None, name="Fan art: creations")
    with pytest.raises(services.CategoryExists):
        services.save_category(admin, None, name="Categories")


def test_shift_category_reorders() -> None:
    admin = make_user(role=Role.ADMIN)
    a, b, c = (make_category(s) for s in "abc")
    services.shift_category(admin, c, -1)
    assert [x.slug for x in services.categories()] == ["a", "c", "b"]
    services.shift_category(admin, a, -1)  # already first: nothing moves
    assert [x.slug for x in services.categories()] == ["a", "c", "b"]
    assert b


def test_edit_held_by_watched_words_hides_the_post_and_recounts(watched: Any) -> None:
    watched.hold.add("casino")
    hugo = make_user()
    thread = make_thread()
    post = make_reply(hugo, thread, "Innocent")
    services.edit_post(hugo, post, "Visit my casino")
    db.session.commit()
    assert post.is_held and thread.reply_count == 0
    assert_counts_exact()


def test_deleting_in_a_hidden_thread_leaves_the_category_alone() -> None:
    category = make_category("general")
    make_thread(category=category, replies=1)
    hidden = make_thread(category=category, replies=2)
    hidden.is_hidden = True
    services.recount_thread(hidden)
    post = db.session.scalars(
        sa.select(Post).where(Post.thread_id == hidden.id, Post.is_first.is_(False))
    ).first()
    services.delete_post(post.author, post)
    db.session.commit()
    assert (category.thread_count, category.post_count) == (1, 2)
    assert hidden.reply_count == 1
    assert_counts_exact()
