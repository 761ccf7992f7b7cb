"""Admin console test kit: a login that forgets the cached user, an admin, cheap hashes."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from fancampaign.accounts.models import Role
from tests.factories import make_user
from tests.helpers import make_login


@pytest.fixture
def login(client: FlaskClient) -> Any:
    """login(user) logs the client in; None logs it out."""
    return make_login(client)


@pytest.fixture
def admin(app: Any) -> Any:
    return make_user("boss", role=Role.ADMIN)


@pytest.fixture
def moderator(app: Any) -> Any:
    return make_user("gelda", role=Role.MODERATOR)


@pytest.fixture(autouse=True)
def fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests make many accounts; a cheap hash keeps them quick."""
    from werkzeug.security import generate_password_hash

    from fancampaign.accounts import services as accounts

    monkeypatch.setattr(
        accounts,
        "hash_password",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"),
    )
