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
