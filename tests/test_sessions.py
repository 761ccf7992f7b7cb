"""The session cookie is Flask's, verified once per process: what it opens is what Flask
would open, and nothing it kept outlives the cookie's lifetime or the keys it was signed with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from fancampaign.sessions import CookieSessions


def _cookie(app: Flask, data: dict[str, Any]) -> str:
    return SecureCookieSessionInterface().get_signing_serializer(app).dumps(data)  # type: ignore[union-attr]


def _open(app: Flask, cookie: str | None) -> Any:
    name = app.config["SESSION_COOKIE_NAME"]
    headers = {"Cookie": f"{name}={cookie}"} if cookie is not None else {}
    with app.test_request_context("/", headers=headers) as ctx:
        return app.session_interface.open_session(app, ctx.request)


def test_the_app_opens_sessions_through_it(app):
    assert isinstance(app.session_interface, CookieSessions)


def test_a_cookie_opens_to_what_it_holds_the_first_time_and_every_time_after(app):
    cookie = _cookie(app, {"_user_id": "7:token", "csrf_token": "abc"})
    for _ in range(3):
        assert dict(_open(app, cookie)) == {"_user_id": "7:token", "csrf_token": "abc"}


def test_a_change_made_to_one_requests_session_is_not_in_the_next(app):
    cookie = _cookie(app, {"_flashes": [["message", "Saved"]], "n": 1})
    first = _open(app, cookie)
    first["_flashes"].append(["message", "Another"])
    first["n"] = 2
    assert dict(_open(app, cookie)) == {"_flashes": [["message", "Saved"]], "n": 1}


def test_a_tampered_or_foreign_cookie_opens_empty(app):
    cookie = _cookie(app, {"_user_id": "7:token"})
    assert dict(_open(app, cookie)) == {"_user_id": "7:token"}
    assert dict(_open(app, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))) == {}
    other = Flask("other")
    other.secret_key = "another-key"
    assert dict(_open(app, _cookie(other, {"_user_id": "1:x"}))) == {}
    assert dict(_open(app, None)) == {}


def test_a_kept_cookie_stops_opening_when_its_lifetime_is_over(app, monkeypatch):
    app.permanent_session_lifetime = timedelta(seconds=60)
    cookie = _cookie(app, {"_user_id": "7:token"})
    assert dict(_open(app, cookie)) == {"_user_id": "7:token"}  # verified and kept
    import fancampaign.sessions as sessions

    real = sessions.time.time
    monkeypatch.setattr(sessions.time, "time", lambda: real() + 61)
    import itsdangerous.timed as timed

    monkeypatch.setattr(timed.time, "time", lambda: real() + 61)
    assert dict(_open(app, cookie)) == {}


def test_a_new_secret_key_forgets_what_the_old_one_verified(app):
    cookie = _cookie(app, {"_user_id": "7:token"})
    assert dict(_open(app, cookie)) == {"_user_id": "7:token"}
    app.secret_key = "rotated-key"
    app.config["SECRET_KEY"] = "rotated-key"
    assert dict(_open(app, cookie)) == {}
    app.config["SECRET_KEY_FALLBACKS"] = ["test-secret-key"]
    assert dict(_open(app, cookie)) == {"_user_id": "7:token"}
