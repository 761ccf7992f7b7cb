"""Moderation test kit: a login that forgets the cached user, and a few ready-made people."""

from __future__ import annotations

from typing import Any

import pytest
from flask import g
from flask.testing import FlaskClient

from fancampaign.accounts.models import Role
from tests.factories import make_user


@pytest.fixture
def login(client: FlaskClient) -> Any:
    """login(user) logs the client in; None logs it out (the cached user on `g` is dropped:
    the test app context stays pushed across requests)."""

    def _login(user: Any) -> Any:
        with client.session_transaction() as session:
            if user is None:
                session.pop("_user_id", None)
            else:
                session["_user_id"] = user.get_id()
                session["_fresh"] = True
        g.pop("_login_user", None)
        return user

    return _login


@pytest.fixture
def moderator(app: Any) -> Any:
    return make_user("gelda", role=Role.MODERATOR)


@pytest.fixture
def admin(app: Any) -> Any:
    return make_user("boss", role=Role.ADMIN)


@pytest.fixture(autouse=True)
def fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests make many accounts; a cheap hash keeps them quick (login still checks it)."""
    from werkzeug.security import generate_password_hash

    from fancampaign.accounts import services as accounts

    monkeypatch.setattr(
        accounts,
        "hash_password",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"),
    )
