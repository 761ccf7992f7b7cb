"""Every account form fed bad input answers 4xx with a message, never 500, and stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.accounts import services
from fancampaign.accounts.models import User
from fancampaign.extensions import db
from fancampaign.mail.models import OutboxMessage
from tests.factories import PASSWORD, make_user

BAD_INPUTS = {
    "empty": "",
    "spaces": "   \t  ",
    "huge": "x" * 1_000_000,
    "nul": "alita\x00fan",
    "control": "alita\x1b[31mfan",
    "odd_unicode": "\u202e\uff21lita\u200b\U0001f916 e\u0301 \ufeff\u0000"[:-1],
    "rtl_and_zero_width": "\u200f\u200d\u2066admin\u2069",
}
# What a 4xx answer must say somewhere: a field error, the error summary or an error page.
MESSAGE_MARKERS = ("field__error", "There is a problem", "too large", "not allowed")


@dataclass
class FormCase:
    path: str | Callable[[Any], str]
    fields: tuple[str, ...]
    extra: dict[str, str]
    logged_in: bool = False
    # Bad inputs this form may accept (they are valid there): a redirect is fine then.
    may_accept: tuple[str, ...] = ()


FORMS = {
    "register": FormCase(
        "/register", ("username", "display_name", "email", "password", "confirm"), {}
    ),
    "login": FormCase("/login", ("login", "password"), {}),
    "reset_request": FormCase("/reset-password", ("email",), {}),
    "reset_password": FormCase(
        lambda app: (
            "/reset-password/"
            + services.make_reset_token(services.get_by_username("owner"), app.secret_key)
        ),
        ("password", "confirm"),
        {},
        # A long password of odd characters is a fine password.
        may_accept=("odd_unicode",),
    ),
    "settings_profile": FormCase(
        "/settings",
        ("profile-display_name", "profile-bio"),
        {"profile-action": "profile"},
        logged_in=True,
        may_accept=("empty", "spaces", "odd_unicode", "rtl_and_zero_width"),
    ),
    "settings_email": FormCase(
        "/settings",
        ("email-email", "email-current_password"),
        {"email-action": "email"},
        logged_in=True,
    ),
    "settings_password": FormCase(
        "/settings",
        ("password-current_password", "password-new_password", "password-confirm"),
        {"password-action": "password"},
        logged_in=True,
    ),
    "settings_delete": FormCase(
        "/settings",
        ("delete-current_password", "delete-confirm"),
        {"delete-action": "delete"},
        logged_in=True,
    ),
}


def snapshot() -> tuple[Any, ...]:
    db.session.expire_all()
    users = db.session.execute(
        sa.select(
            User.id,
            User.username,
            User.email,
            User.pending_email,
            User.password_hash,
            User.display_name,
            User.bio,
            User.deleted_at,
            User.session_token,
        ).order_by(User.id)
    ).all()
    mail = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    return tuple(users), mail


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
@pytest.mark.parametrize("form", list(FORMS))
def test_bad_input_gets_a_4xx_with_a_message_and_changes_nothing(app, client, login, form, bad):
    case = FORMS[form]
    owner = make_user("owner", email="owner@example.com")
    if case.logged_in:
        login(owner)
    path = case.path(app) if callable(case.path) else case.path
    value = BAD_INPUTS[bad]
    before = snapshot()

    response = client.post(path, data={**case.extra, **dict.fromkeys(case.fields, value)})

    assert response.status_code < 500
    if bad in case.may_accept and response.status_code in (302, 303):
        return
    assert 400 <= response.status_code < 500, response.status_code
    body = response.get_data(as_text=True)
    assert any(marker in body for marker in MESSAGE_MARKERS), body[:2000]
    assert snapshot() == before


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
@pytest.mark.parametrize("field", ["username", "display_name", "email", "password"])
def test_one_bad_register_field_among_good_ones_is_refused_or_cleaned(client, field, bad):
    data = {
        "username": "alita",
        "display_name": "Alita",
        "email": "alita@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    data[field] = BAD_INPUTS[bad]
    if field == "password":
        data["confirm"] = BAD_INPUTS[bad]
    response = client.post("/register", data=data)
    assert response.status_code < 500
    db.session.expire_all()
    user = services.get_by_username("alita")
    if response.status_code == 302:
        # Only an optional display name may be odd (stored cleaned, never with controls), and a
        # password may be any long enough string of odd characters.
        assert field == "display_name" or (field, bad) == ("password", "odd_unicode")
        assert user is not None
        assert not any(ord(c) < 32 or c == "\x7f" for c in user.display_name)
        assert len(user.display_name) <= 60
    else:
        assert response.status_code == 400
        assert "field__error" in response.get_data(as_text=True)
        assert user is None


@pytest.mark.parametrize(
    "path", ["/confirm/{}", "/reset-password/{}", "/u/{}"], ids=["confirm", "reset", "profile"]
)
@pytest.mark.parametrize("bad", ["nul", "odd_unicode", "huge_token"])
def test_bad_tokens_and_names_in_the_url_are_4xx(client, path, bad):
    value = {"nul": "a%00b", "odd_unicode": "%E2%80%AE%F0%9F%A4%96", "huge_token": "x" * 20_000}[
        bad
    ]
    for method in (client.get, client.post):
        response = method(path.format(value))
        assert 400 <= response.status_code < 500
