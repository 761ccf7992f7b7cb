"""Who may do what in the forum: role x action → allowed, with no change when refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db, utcnow
from fancampaign.forum import services
from fancampaign.forum.models import Post, PostLike, Thread
from tests.factories import make_category, make_reply, make_thread, make_user

ROLES = [
    "visitor",
    "unconfirmed",
    "member",
    "suspended",
    "banned",
    "organiser",
    "moderator",
    "admin",
]
ACTIONS = [
    "start thread",
    "reply",
    "reply to locked thread",
    "edit own post",
    "edit another's post",
    "delete another's post",
    "like",
]
# Y: allowed, N: refused. Columns in the order of ACTIONS.
TABLE = {
    "visitor": "NNNNNNN",
    "unconfirmed": "NNNNNNN",
    "member": "YYNYNNY",
    "suspended": "NNNNNNN",
    "banned": "NNNNNNN",
    "organiser": "YYNYNNY",
    "moderator": "YYYYYYY",
    "admin": "YYYYYYY",
}
CASES = [
    (role, action, TABLE[role][i] == "Y") for role in ROLES for i, action in enumerate(ACTIONS)
]


def make_actor(role: str) -> Any:
    """The acting user (None for a visitor) with a post of their own, made while they could."""
    if role == "visitor":
        return None
    rank = role if role in ("organiser", "moderator", "admin") else "member"
    user = make_user(role=Role(rank))
    return user


def restrict(user: Any, role: str) -> None:
    if role == "unconfirmed":
        user.email_confirmed_at = None
    elif role == "suspended":
        user.suspended_until = utcnow() + timedelta(days=3)
    elif role == "banned":
        user.is_banned = True
    db.session.commit()


def snapshot() -> tuple[Any, ...]:
    db.session.expire_all()
    posts = db.session.execute(
        sa.select(Post.id, Post.body, Post.is_deleted, Post.like_count).order_by(Post.id)
    ).all()
    threads = db.session.execute(
        sa.select(Thread.id, Thread.title, Thread.reply_count).order_by(Thread.id)
    ).all()
    likes = db.session.scalar(sa.select(sa.func.count()).select_from(PostLike))
    return tuple(posts), tuple(threads), likes


@pytest.mark.parametrize(("role", "action", "allowed"), CASES)
def test_permission_table(client: Any, login: Any, role: str, action: str, allowed: bool) -> None:
    category = make_category("general")
    other = make_user()
    thread = make_thread(other, category)
    locked = make_thread(other, category, title="Locked")
    locked.is_locked = True
    their_post = make_reply(other, thread, "Their words")
    user = make_actor(role)
    own_post = make_reply(user, thread, "My words") if user is not None else their_post
    if user is not None:
        restrict(user, role)
        login(user)
    before = snapshot()

    url, data = {
        "start thread": ("/forum/general/new", {"title": "New thread", "body": "Hello"}),
        "reply": (f"/forum/t/{thread.id}/reply", {"body": "A reply"}),
        "reply to locked thread": (f"/forum/t/{locked.id}/reply", {"body": "A reply"}),
        "edit own post": (f"/forum/p/{own_post.id}/edit", {"body": "Changed"}),
        "edit another's post": (f"/forum/p/{their_post.id}/edit", {"body": "Changed"}),
        "delete another's post": (f"/forum/p/{their_post.id}/delete", {}),
        "like": (f"/forum/p/{their_post.id}/like", {}),
    }[action]
    response = client.post(url, data=data)

    if allowed:
        assert response.status_code == 302, response.get_data(as_text=True)
        assert "/login" not in response.location
        assert snapshot() != before
    else:
        assert response.status_code in (302, 403), response.status_code
        if response.status_code == 302:
            assert "/login" in response.location
        assert snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_policies_agree_with_the_table(role: str, app: Any) -> None:
    """The template's buttons use the same predicates the services enforce."""
    from flask_login import AnonymousUserMixin

    from fancampaign import policies

    category = make_category("general")
    other = make_user()
    thread = make_thread(other, category)
    post = services.first_post(thread)
    user = make_actor(role)
    if user is None:
        user = AnonymousUserMixin()
    else:
        restrict(user, role)
    expected = TABLE[role]
    assert policies.can_start_thread(user, category) == (expected[0] == "Y")
    assert policies.can_reply(user, thread) == (expected[1] == "Y")
    assert policies.can_edit_post(user, post) == (expected[4] == "Y")
    assert policies.can_delete_post(user, post) == (expected[5] == "Y")
    assert policies.can_like(user, post) == (expected[6] == "Y")
