"""Security basics on the account pages: CSRF, headers, CSP-clean HTML, cookies, rate limits."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from fancampaign.accounts import services
from fancampaign.extensions import db
from tests.factories import PASSWORD, make_user

CSRF_MESSAGE = "The form expired or was not sent from this site."


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page has a CSRF token"
    return match.group(1)


# CSRF ----------------------------------------------------------------------------------


@pytest.mark.config(WTF_CSRF_ENABLED=True)
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/register", {"username": "alita", "email": "a@example.com", "password": PASSWORD}),
        ("/login", {"login": "hugo", "password": PASSWORD}),
        ("/logout", {}),
        ("/reset-password", {"email": "hugo@example.com"}),
        ("/reset-password/{reset}", {"password": PASSWORD, "confirm": PASSWORD}),
        ("/confirm/{confirm}", {}),
        ("/settings", {"profile-action": "profile", "profile-bio": "changed"}),
        ("/settings", {"delete-action": "delete", "delete-current_password": PASSWORD}),
    ],
)
def test_a_post_without_the_csrf_token_is_refused_with_a_message(app, client, login, path, data):
    user = make_user("hugo", confirmed=False, bio="before")
    login(user)
    path = path.format(
        reset=services.make_reset_token(user, app.secret_key),
        confirm=services.make_confirm_token(user, app.secret_key),
    )
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    db.session.expire_all()
    user = services.get_by_username("hugo")
    assert (user.bio, user.is_confirmed, user.is_deleted) == ("before", False, False)


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_a_wrong_csrf_token_is_refused(client):
    make_user("hugo")
    client.get("/login")
    response = client.post(
        "/login", data={"login": "hugo", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_forms_work_with_the_token_from_the_page(client):
    make_user("hugo")
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"login": "hugo", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    settings = client.get("/settings").get_data(as_text=True)
    token = csrf_token_from(settings)
    response = client.post(
        "/settings",
        data={"profile-action": "profile", "profile-bio": "hello", "profile-csrf_token": token},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert services.get_by_username("hugo").bio == "hello"
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


# Headers and HTML ------------------------------------------------------------------------


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style attributes, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("inline <style>")
        if "style" in names:
            self.problems.append(f"style= on <{tag}>")
        self.problems.extend(f"{name}= on <{tag}>" for name in names if name.startswith("on"))
        for name, value in attrs:
            if name in ("href", "src", "action") and (value or "").startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")


class LabelFinder(HTMLParser):
    """Form fields and the labels that name them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: set[str] = set()
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labelled.add(a["for"] or "")
        if tag in ("input", "select", "textarea") and a.get("type") not in (
            "hidden",
            "submit",
            "button",
        ):
            self.fields.add(a.get("id") or f"<{tag} name={a.get('name')}> without an id")


def unlabelled_fields_in(html: str) -> set[str]:
    finder = LabelFinder()
    finder.feed(html)
    return finder.fields - finder.labelled


def inline_code_in(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def account_pages(app, client, login) -> list[tuple[str, str, int]]:
    """(method, path, expected status) for every account page, in every state it shows."""
    user = make_user("hugo", bio="**bio** <b>x</b>", confirmed=False)
    reset = services.make_reset_token(user, app.secret_key)
    confirm = services.make_confirm_token(user, app.secret_key)
    pages = [
        ("GET", "/", 200),
        ("GET", "/register", 200),
        ("POST", "/register", 400),
        ("GET", "/login", 200),
        ("POST", "/login", 400),
        ("GET", "/reset-password", 200),
        ("POST", "/reset-password", 400),
        ("GET", f"/reset-password/{reset}", 200),
        ("POST", f"/reset-password/{reset}", 400),
        ("GET", "/reset-password/bad-token", 400),
        ("GET", f"/confirm/{confirm}", 200),
        ("GET", "/confirm/bad-token", 400),
        ("GET", "/u/hugo", 200),
        ("GET", "/nowhere", 404),
        ("GET", "/logout", 405),
    ]
    return pages


def test_every_account_page_is_free_of_inline_code_and_sends_the_security_headers(
    app, client, login
):
    pages = account_pages(app, client, login)
    for method, path, status in pages:
        response = client.open(path, method=method, data={})
        assert response.status_code == status, (method, path)
        check_page(response, f"{method} {path}")
    login(services.get_by_username("hugo"))
    for method, path, status in [("GET", "/settings", 200), ("GET", "/u/hugo", 200)]:
        response = client.open(path, method=method)
        assert response.status_code == status
        check_page(response, f"{method} {path} (logged in)")
    response = client.post("/settings", data={"password-action": "password"})
    assert response.status_code == 400
    check_page(response, "POST /settings with errors")


def check_page(response, label: str) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.get_data(as_text=True)
    assert inline_code_in(html) == [], label
    assert unlabelled_fields_in(html) == set(), label


def test_the_inline_code_finder_finds_inline_code():
    assert inline_code_in('<script>alert(1)</script><p style="x" onclick="y">') == [
        "inline <script>",
        "style= on <p>",
        "onclick= on <p>",
    ]
    assert inline_code_in('<script src="/static/js/app.js"></script>') == []


# Cookies -----------------------------------------------------------------------------------


@pytest.mark.config(TESTING=False)
def test_production_cookies_are_secure_httponly_and_samesite(app, client):
    assert app.config["SESSION_COOKIE_SECURE"] is True
    make_user("hugo")
    response = client.post(
        "/login",
        data={"login": "hugo", "password": PASSWORD, "remember": "y"},
        base_url="https://localhost",
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    for name in ("session=", "remember_token="):
        (cookie,) = [c for c in cookies if c.startswith(name)]
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_cookies_are_not_secure_outside_production(app, client):
    make_user("hugo")
    response = client.post("/login", data={"login": "hugo", "password": PASSWORD})
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert "Secure" not in cookie
    assert "HttpOnly" in cookie


# Rate limits -------------------------------------------------------------------------------


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_the_eleventh_login_post_in_a_minute_is_refused_with_429(client):
    make_user("hugo")
    for _ in range(10):
        response = client.post("/login", data={"login": "hugo", "password": "wrong password!"})
        assert response.status_code == 400
    response = client.post("/login", data={"login": "hugo", "password": PASSWORD})
    assert response.status_code == 429
    assert "You are doing that too often" in response.get_data(as_text=True)
    # Looking at the form is not limited.
    assert client.get("/login").status_code == 200


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_registration_is_rate_limited(client):
    for n in range(5):
        response = client.post("/register", data={"username": f"fan{n}"})
        assert response.status_code == 400
    response = client.post("/register", data={"username": "fan9"})
    assert response.status_code == 429
    assert "You are doing that too often" in response.get_data(as_text=True)


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_password_reset_requests_are_rate_limited(client, outbox):
    make_user("hugo", email="hugo@example.com")
    for _ in range(5):
        assert client.post("/reset-password", data={"email": "hugo@example.com"}).status_code == 302
    response = client.post("/reset-password", data={"email": "hugo@example.com"})
    assert response.status_code == 429
    assert "You are doing that too often" in response.get_data(as_text=True)
    assert len(outbox) == 5


def test_rate_limits_are_off_in_tests_unless_asked_for(client):
    for _ in range(12):
        assert client.post("/login", data={"login": "x", "password": "y"}).status_code == 400


# Sessions ----------------------------------------------------------------------------------


@pytest.mark.config(WTF_CSRF_ENABLED=True)
def test_csrf_token_rotates_at_login(client):
    make_user("hugo")
    before = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"login": "hugo", "password": PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302

    stale = client.post(
        "/settings",
        data={"profile-action": "profile", "profile-bio": "hello", "profile-csrf_token": before},
    )
    after = csrf_token_from(client.get("/settings").get_data(as_text=True))

    assert stale.status_code == 400
    assert CSRF_MESSAGE in stale.get_data(as_text=True)
    assert after != before
    db.session.expire_all()
    assert services.get_by_username("hugo").bio == ""


def _cookie(client, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found is not None else None


def test_logout_ends_old_session_cookies(app, client):
    make_user("hugo")
    client.post("/login", data={"login": "hugo", "password": PASSWORD, "remember": "y"})
    saved = {name: _cookie(client, name) for name in ("session", "remember_token")}
    assert all(saved.values())
    assert client.get("/settings").status_code == 200

    assert client.post("/logout").status_code == 302

    for name, value in saved.items():
        replay = app.test_client()
        replay.set_cookie(name, value)
        response = replay.get("/settings")
        assert response.status_code == 302, name
        assert "/login" in response.headers["Location"]
