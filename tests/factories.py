"""Small builders with keyword defaults; they go through the services and flush."""

from __future__ import annotations

import itertools
from typing import Any

from fancampaign.accounts.models import Role, User
from fancampaign.accounts.services import register_user
from fancampaign.extensions import db

_seq = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(
    username: str | None = None,
    *,
    email: str | None = None,
    role: Role | str = Role.MEMBER,
    confirmed: bool = True,
    password: str = PASSWORD,
    commit: bool = True,
    **attrs: Any,
) -> User:
    n = next(_seq)
    username = username or f"fan{n}"
    user = register_user(
        username,
        email or f"{username.lower()}@example.com",
        password,
        role=Role(role),
        confirmed=confirmed,
    )
    for key, value in attrs.items():
        setattr(user, key, value)
    db.session.flush()
    if commit:
        db.session.commit()
    return user


# Forum ------------------------------------------------------------------------------------


def make_category(slug: str = "general", *, staff_only: bool = False, **attrs: Any) -> Any:
    from fancampaign.forum.services import save_category

    category = save_category(
        None,
        None,
        name=attrs.pop("name", slug.replace("-", " ").title()),
        slug=slug,
        is_staff_only=staff_only,
        **attrs,
    )
    db.session.commit()
    return category


def make_thread(
    author: User | None = None,
    category: Any = None,
    *,
    title: str = "A thread",
    body: str = "The first post.",
    replies: int = 0,
) -> Any:
    from fancampaign.forum.services import create_thread, reply

    author = author or make_user()
    category = category or make_category(f"cat{next(_seq)}")
    thread = create_thread(author, category, title, body)
    for n in range(replies):
        reply(author, thread, f"Reply number {n + 1}.")
    db.session.commit()
    return thread


def make_reply(author: User, thread: Any, body: str = "A reply.") -> Any:
    from fancampaign.forum.services import reply

    post = reply(author, thread, body)
    db.session.commit()
    return post


# Petitions --------------------------------------------------------------------------------


def make_petition(
    creator: User | None = None,
    *,
    title: str | None = None,
    summary: str = "A short summary of what we ask for.",
    body: str = "Why it **matters**.",
    target: str = "20th Century Studios",
    goal: int = 100,
    deadline: Any = None,
    status: str | None = None,
    commit: bool = True,
) -> Any:
    """A petition by an organiser (open at once) unless a creator or a status says otherwise."""
    from fancampaign.petitions.services import create_petition

    creator = creator or make_user(role=Role.ORGANISER)
    petition = create_petition(
        creator,
        title=title or f"Petition number {next(_seq)} for a sequel",
        summary=summary,
        body=body,
        target=target,
        goal=goal,
        deadline=deadline,
    )
    if status is not None:
        petition.status = status
    db.session.flush()
    if commit:
        db.session.commit()
    return petition


# News -------------------------------------------------------------------------------------


def make_news_post(
    author: User | None = None,
    *,
    title: str | None = None,
    body: str = "## A heading\n\nSome **news** for the fans.",
    standfirst: str = "What happened, in one sentence.",
    publish: str = "now",
    commit: bool = True,
    **fields: Any,
) -> Any:
    """A news post by an organiser, published now unless `publish` says otherwise."""
    from fancampaign.news.services import create_post

    author = author or make_user(role=Role.ORGANISER)
    post = create_post(
        author,
        title=title or f"News number {next(_seq)}",
        body=body,
        standfirst=standfirst,
        publish=publish,
        **fields,
    )
    if commit:
        db.session.commit()
    return post
