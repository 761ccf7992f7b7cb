"""The permission table: every moderation endpoint x every role -> allowed, or refused
(403, or a redirect to log in) with nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g

from fancampaign.accounts.models import Role, User
from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import Post, Thread
from fancampaign.moderation import services
from fancampaign.moderation.models import ModerationAction, Report, WatchedWord
from fancampaign.notifications.models import Notification
from fancampaign.petitions.models import Petition
from tests.factories import make_category, make_petition, make_reply, make_thread, make_user

ROLES = ("visitor", "member", "suspended", "banned", "organiser", "moderator", "admin")
MODERATORS = {"moderator", "admin"}
PARTICIPANTS = {"member", "organiser", "moderator", "admin"}


@dataclass
class World:
    users: dict[str, User]
    post: Post
    thread: Thread
    target: User
    petition: Petition
    word: WatchedWord
    category: Any


@pytest.fixture
def world(app) -> World:
    users = {
        "member": make_user("the_member"),
        "suspended": make_user("the_suspended", suspended_until=utcnow() + timedelta(days=7)),
        "banned": make_user("the_banned", is_banned=True),
        "organiser": make_user("the_organiser", role=Role.ORGANISER),
        "moderator": make_user("the_moderator", role=Role.MODERATOR),
        "admin": make_user("the_admin", role=Role.ADMIN),
    }
    thread = make_thread(make_user("opener"), title="A thread")
    post = make_reply(make_user("writer"), thread, "A reported reply.")
    target = make_user("targetfan")
    petition = make_petition(make_user("creator"), status="pending")
    word = services.add_word(users["admin"], "existing", "hold")
    services.report_item(make_user("reporter"), "post", post.id, "spam")
    category = make_category("elsewhere")
    db.session.commit()
    return World(users, post, thread, target, petition, word, category)


def fingerprint(w: World) -> tuple[Any, ...]:
    db.session.expire_all()
    count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
    post = db.session.get(Post, w.post.id)
    thread = db.session.get(Thread, w.thread.id)
    target = db.session.get(User, w.target.id)
    return (
        count(Report),
        count(ModerationAction),
        count(WatchedWord),
        count(Notification),
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Report).where(Report.open_key == 1)
        ),
        (post.is_hidden, post.is_deleted, post.body),
        (thread.is_pinned, thread.is_locked, thread.is_hidden, thread.category_id),
        (target.suspended_until, target.is_banned, target.session_token),
        db.session.get(Petition, w.petition.id).status,
    )


R = "Because the rules say so."
ENDPOINTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/moderation", {}),
    ("GET", "/moderation?tab=held", {}),
    ("GET", "/moderation?tab=petitions", {}),
    ("GET", "/moderation/users?q=ta", {}),
    ("GET", "/moderation/users/targetfan", {}),
    ("GET", "/moderation/words", {}),
    ("GET", "/moderation/log", {}),
    ("GET", "/moderation/post/{post}/hide", {}),
    ("GET", "/moderation/post/{post}/edit", {}),
    ("GET", "/moderation/thread/{thread}/move", {}),
    ("GET", "/moderation/petitions/{petition}/reject", {}),
    ("POST", "/moderation/post/{post}/dismiss", {"reason": R}),
    ("POST", "/moderation/post/{post}/hide", {"reason": R}),
    ("POST", "/moderation/post/{post}/restore", {"reason": R}),
    ("POST", "/moderation/post/{post}/delete", {"reason": R}),
    ("POST", "/moderation/post/{post}/edit", {"text": "Edited.", "reason": R}),
    ("POST", "/moderation/thread/{thread}/hide", {"reason": R}),
    ("POST", "/moderation/thread/{thread}/lock", {"reason": R}),
    ("POST", "/moderation/thread/{thread}/pin", {"reason": R}),
    ("POST", "/moderation/thread/{thread}/move", {"category": "{category}", "reason": R}),
    ("POST", "/moderation/petitions/{petition}/approve", {"reason": ""}),
    ("POST", "/moderation/petitions/{petition}/reject", {"reason": R}),
    (
        "POST",
        "/moderation/users/targetfan/sanction",
        {"action": "suspend", "period": "1d", "reason": R},
    ),
    ("POST", "/moderation/users/targetfan/sanction", {"action": "ban", "reason": R}),
    ("POST", "/moderation/words", {"pattern": "newword", "action": "block"}),
    ("POST", "/moderation/words/{word}/delete", {}),
    ("POST", "/report", {"kind": "post", "id": "{post}", "reason": "abuse", "next": "/"}),
]


def _fill(text: str, w: World) -> str:
    return text.format(
        post=w.post.id,
        thread=w.thread.id,
        petition=w.petition.id,
        word=w.word.id,
        category=w.category.id,
    )


def _login(client: Any, user: User | None) -> None:
    with client.session_transaction() as session:
        session.clear()
        if user is not None:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
    g.pop("_login_user", None)


def _is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


@pytest.mark.parametrize(
    ("method", "url", "data"),
    ENDPOINTS,
    ids=[f"{m} {u} {d.get('action', '')}".strip() for m, u, d in ENDPOINTS],
)
def test_permission_table(client, world, method, url, data):
    url = _fill(url, world)
    data = {k: _fill(v, world) for k, v in data.items()}
    is_report = url == "/report"
    allowed = PARTICIPANTS if is_report else MODERATORS
    # Refused roles first: nothing may change. Allowed roles last (their effects may stack).
    for role in sorted(ROLES, key=lambda r: r in allowed):
        _login(client, world.users.get(role))
        before = fingerprint(world)
        response = client.open(url, method=method, data=data)
        code = response.status_code
        if role in allowed:
            assert code < 500 and code != 403 and not _is_login_redirect(response), (role, code)
        else:
            if role in ("visitor", "banned"):
                assert _is_login_redirect(response), (role, code)
            else:
                assert code == 403, (role, code)
            assert fingerprint(world) == before, role
