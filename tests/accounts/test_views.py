"""Account pages through the test client: status, Location, flashed text and the rows changed."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from fancampaign.accounts import services
from fancampaign.accounts.models import User
from fancampaign.extensions import db
from fancampaign.mail.models import OutboxMessage
from tests.conftest import links_in
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "another long passphrase"


def register(client, username="alita", email="alita@example.com", password=PASSWORD, **extra):
    data = {"username": username, "email": email, "password": password, "confirm": password}
    return client.post("/register", data={**data, **extra})


def get_user(username: str) -> User | None:
    db.session.expire_all()
    return services.get_by_username(username)


def logged_in_as(client) -> str | None:
    """The username the client is logged in as, read off the page header."""
    page = client.get("/settings")
    if page.status_code != 200:
        return None
    db.session.expire_all()
    with client.session_transaction() as session:
        user_id = session.get("_user_id", "")
    user = db.session.get(User, int(user_id.split(":")[0])) if user_id else None
    return user.username if user else None


def link_for(outbox, path: str) -> str:
    links = [link for m in outbox for link in links_in(m) if path in link]
    assert links, f"no {path} link in {[m['Subject'] for m in outbox]}"
    return links[-1].replace("http://localhost", "")


# Register -----------------------------------------------------------------------------


def test_register_page_has_labelled_fields(client):
    page = client.get("/register")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("username", "email", "password", "confirm"):
        assert f'for="{name}"' in html


def test_register_creates_an_unconfirmed_account_and_emails_a_link(client, outbox):
    response = register(client, email="Alita@Example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    user = get_user("alita")
    assert user is not None
    assert user.email == "alita@example.com"
    assert not user.is_confirmed
    assert [m["To"] for m in outbox] == ["alita@example.com"]
    assert "/confirm/" in link_for(outbox, "/confirm/")
    page = client.get("/")
    assert "Check your inbox" in page.get_data(as_text=True)


def test_register_with_a_known_email_answers_as_for_a_new_one_and_tells_the_owner(client, outbox):
    make_user("zapan", email="zapan@example.com")
    first = register(client, username="newcomer", email="someone@example.com")
    first_page = client.get("/").get_data(as_text=True)
    again = register(client, username="another", email="ZAPAN@example.com")
    again_page = client.get("/").get_data(as_text=True)
    assert again.status_code == first.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    assert again_page == first_page
    assert get_user("another") is None
    assert [m["To"] for m in outbox] == ["someone@example.com", "zapan@example.com"]
    assert "already has one" in outbox[1].get_content()


def test_register_with_a_taken_username_in_another_case_is_refused(client, outbox):
    make_user("Alita")
    response = register(client, username="ALITA", email="new@example.com")
    assert response.status_code == 400
    assert "That username is already taken." in response.get_data(as_text=True)
    assert outbox == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "a"}, "3 to 30 letters"),
        ({"username": "admin"}, "reserved"),
        ({"email": "not-an-email"}, "Enter a valid email address"),
        ({"password": "short", "confirm": "short"}, "at least 10 characters"),
        ({"password": "password1234", "confirm": "password1234"}, "too common"),
        ({"confirm": "something different"}, "The passwords differ."),
        ({"username": ""}, "Choose a username."),
    ],
)
def test_register_refuses_bad_input_with_a_message(client, fields, message):
    data = {
        "username": "alita",
        "email": "alita@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    response = client.post("/register", data={**data, **fields})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_register_shows_every_problem_in_one_answer(client):
    response = client.post(
        "/register",
        data={"username": "a", "email": "not-an-email", "password": "short", "confirm": "other"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for message in (
        "3 to 30 letters",
        "Enter a valid email address",
        "at least 10 characters",
        "The passwords differ.",
    ):
        assert message in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_a_logged_in_user_is_sent_away_from_register_and_login(client, login):
    login(make_user("hugo"))
    assert client.get("/register").status_code == 302
    assert client.get("/login").status_code == 302


# Confirm ------------------------------------------------------------------------------


def test_the_confirmation_link_shows_a_button_and_only_the_post_confirms(client, outbox):
    register(client)
    link = link_for(outbox, "/confirm/")
    page = client.get(link)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "alita@example.com" in html
    assert "Confirm" in html and 'method="post"' in html
    assert not get_user("alita").is_confirmed  # a mail scanner's GET changes nothing
    response = client.post(link)
    assert response.status_code == 302
    assert get_user("alita").is_confirmed
    assert "your email address is confirmed" in client.get("/").get_data(as_text=True)
    # Following the link logged the new member in.
    assert logged_in_as(client) == "alita"
    again = client.post(link, follow_redirects=True)
    assert "already confirmed" in again.get_data(as_text=True)


def test_confirming_while_logged_in_as_someone_else_keeps_that_session(client, login, app):
    user = make_user("alita", confirmed=False)
    login(make_user("hugo"))
    token = services.make_confirm_token(user, app.secret_key)
    assert client.post(f"/confirm/{token}").status_code == 302
    assert get_user("alita").is_confirmed
    assert logged_in_as(client) == "hugo"


@pytest.mark.parametrize(
    "token",
    ["garbage", "eyJ1IjoxfQ.AAAAAA.BBBBBB", "x" * 5000, "%C3%A9t%C3%A9", "a.b.c.d"],
)
def test_a_bad_confirmation_link_says_so_and_changes_nothing(client, token):
    user = make_user("alita", confirmed=False)
    for method in (client.get, client.post):
        response = method(f"/confirm/{token}")
        assert response.status_code in (400, 404)
        if response.status_code == 400:
            assert "link is not valid" in response.get_data(as_text=True)
    assert not get_user(user.username).is_confirmed


def test_a_tampered_confirmation_link_says_so_and_changes_nothing(client, app):
    user = make_user("alita", confirmed=False)
    token = services.make_confirm_token(user, app.secret_key)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = client.post(f"/confirm/{tampered}")
    assert response.status_code == 400
    assert "link is not valid" in response.get_data(as_text=True)
    assert not get_user("alita").is_confirmed


@pytest.mark.config(CONFIRM_TOKEN_MAX_AGE=-1)
def test_an_expired_confirmation_link_says_so_and_changes_nothing(client, app):
    user = make_user("alita", confirmed=False)
    token = services.make_confirm_token(user, app.secret_key)
    response = client.post(f"/confirm/{token}")
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert not get_user("alita").is_confirmed


# Login / logout ------------------------------------------------------------------------


@pytest.mark.parametrize("login_as", ["hugo", "HUGO", "hugo@example.com", "Hugo@Example.com"])
def test_login_by_username_or_email(client, login_as):
    make_user("Hugo", email="hugo@example.com")
    response = client.post("/login", data={"login": login_as, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert logged_in_as(client) == "Hugo"
    assert get_user("hugo").last_login_at is not None


def test_remember_me_sets_a_long_lived_cookie(client):
    make_user("hugo")
    client.post("/login", data={"login": "hugo", "password": PASSWORD})
    assert client.get_cookie("remember_token") is None
    client.post("/logout")
    client.post("/login", data={"login": "hugo", "password": PASSWORD, "remember": "y"})
    cookie = client.get_cookie("remember_token")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.expires is not None


@pytest.mark.parametrize("login_as", ["hugo", "nobody", "nobody@example.com"])
def test_a_failed_login_gives_one_message_whatever_was_wrong(client, login_as):
    make_user("hugo")
    response = client.post("/login", data={"login": login_as, "password": "wrong password!"})
    assert response.status_code == 400
    assert "That username or email and password do not match." in response.get_data(as_text=True)
    assert logged_in_as(client) is None


def test_login_follows_a_safe_next_and_ignores_another_site(client):
    make_user("hugo")
    data = {"login": "hugo", "password": PASSWORD}
    response = client.post("/login?next=/settings", data=data)
    assert response.headers["Location"] == "/settings"
    client.post("/logout")
    for bad in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post("/login", query_string={"next": bad}, data=data)
        assert response.headers["Location"] == "/"
        client.post("/logout")


def test_a_banned_user_cannot_log_in(client):
    make_user("hugo", is_banned=True)
    response = client.post("/login", data={"login": "hugo", "password": PASSWORD})
    assert response.status_code == 403
    assert "banned" in response.get_data(as_text=True)
    assert logged_in_as(client) is None


def test_logout_is_a_post(client, login):
    login(make_user("hugo"))
    assert client.get("/logout").status_code == 405
    assert logged_in_as(client) == "hugo"
    response = client.post("/logout")
    assert response.status_code == 302
    assert logged_in_as(client) is None
    assert "You have logged out." in client.get("/").get_data(as_text=True)


def test_a_ban_ends_a_logged_in_session_on_its_next_request(client, login):
    user = make_user("hugo")
    login(user)
    assert client.get("/settings").status_code == 200
    user.is_banned = True
    user.session_token = "rotated-by-ban"
    db.session.commit()
    response = client.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_ban_alone_ends_the_session_even_if_the_token_is_unchanged(client, login):
    user = make_user("hugo")
    login(user)
    user.is_banned = True
    db.session.commit()
    assert client.get("/settings").status_code == 302


def test_the_remember_cookie_stops_working_after_a_ban(client):
    user = make_user("hugo")
    client.post("/login", data={"login": "hugo", "password": PASSWORD, "remember": "y"})
    with client.session_transaction() as session:
        session.clear()  # the browser was closed: only the remember cookie is left
    assert client.get("/settings").status_code == 200
    user.is_banned = True
    user.session_token = "rotated-by-ban"
    db.session.commit()
    with client.session_transaction() as session:
        session.clear()
    assert client.get("/settings").status_code == 302


# Password reset ------------------------------------------------------------------------


def test_reset_says_the_same_for_known_and_unknown_addresses(client, outbox):
    make_user("hugo", email="hugo@example.com")
    known = client.post("/reset-password", data={"email": "hugo@example.com"})
    known_page = client.get("/login").get_data(as_text=True)
    unknown = client.post("/reset-password", data={"email": "nobody@example.com"})
    unknown_page = client.get("/login").get_data(as_text=True)
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"] == "/login"
    assert known_page == unknown_page
    assert "If that address has an account" in known_page
    assert [m["To"] for m in outbox] == ["hugo@example.com"]


def test_reset_link_sets_a_new_password_once(client, outbox):
    user = make_user("hugo", email="hugo@example.com")
    old_token = user.session_token
    client.post("/reset-password", data={"email": "hugo@example.com"})
    link = link_for(outbox, "/reset-password/")
    assert client.get(link).status_code == 200
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = client.post(link, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    user = get_user("hugo")
    assert user.session_token != old_token
    assert services.authenticate("hugo", NEW_PASSWORD) is not None
    reused = client.post(link, data={"password": "yet another passphrase", "confirm": "x"})
    assert reused.status_code == 400
    assert "already been used" in reused.get_data(as_text=True)
    assert services.authenticate("hugo", NEW_PASSWORD) is not None


@pytest.mark.config(RESET_TOKEN_MAX_AGE=-1)
def test_an_expired_reset_link_says_so_and_changes_nothing(client, app):
    user = make_user("hugo")
    before = user.password_hash
    token = services.make_reset_token(user, app.secret_key)
    response = client.post(
        f"/reset-password/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert get_user("hugo").password_hash == before


def test_a_tampered_reset_link_says_so_and_changes_nothing(client, app):
    user = make_user("hugo")
    before = user.password_hash
    token = services.make_reset_token(user, app.secret_key)
    response = client.post(
        f"/reset-password/{token}x", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)
    assert get_user("hugo").password_hash == before


def test_reset_refuses_a_weak_password_with_a_message(client, app):
    user = make_user("hugo")
    token = services.make_reset_token(user, app.secret_key)
    response = client.post(
        f"/reset-password/{token}", data={"password": "password123", "confirm": "password123"}
    )
    assert response.status_code == 400
    assert "too common" in response.get_data(as_text=True)


# Profile -------------------------------------------------------------------------------


def test_profile_shows_the_name_bio_and_join_date(client):
    make_user("hugo", display_name="Hugo the Fan", bio="Motorball forever")
    page = client.get("/u/HUGO")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Hugo the Fan" in html
    assert "Motorball forever" in html
    assert "hugo@example.com" not in html


def test_unknown_and_deleted_profiles_are_404(client):
    user = make_user("hugo")
    assert client.get("/u/nobody").status_code == 404
    services.erase_user(user)
    db.session.commit()
    assert client.get("/u/hugo").status_code == 404
    assert client.get(f"/u/{user.username}").status_code == 404


def test_bio_html_is_escaped_on_the_profile(client):
    make_user("hugo", bio="<script>alert(1)</script>")
    html = client.get("/u/hugo").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html


# Settings ------------------------------------------------------------------------------


def test_settings_needs_a_login(client):
    response = client.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/settings")


def test_settings_saves_the_profile(client, login):
    login(make_user("hugo"))
    response = client.post(
        "/settings",
        data={
            "profile-action": "profile",
            "profile-display_name": "Hugo",
            "profile-bio": "Hello",
        },
    )
    assert response.status_code == 302
    user = get_user("hugo")
    assert (user.display_name, user.bio) == ("Hugo", "Hello")


def test_settings_leave_what_we_email_to_the_notification_settings(client, login):
    login(make_user("hugo"))
    page = client.get("/settings").get_data(as_text=True)
    assert 'type="checkbox"' not in page.split('id="avatar-heading"')[0]
    assert "Email me about" not in page
    assert 'href="/settings/notifications"' in page


def test_settings_email_change_is_confirmed_by_the_link_sent_to_the_new_address(
    client, login, outbox
):
    login(make_user("hugo", email="hugo@example.com"))
    response = client.post(
        "/settings",
        data={
            "email-action": "email",
            "email-email": "New.Hugo@example.com",
            "email-current_password": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert get_user("hugo").email == "hugo@example.com"
    assert get_user("hugo").pending_email == "new.hugo@example.com"
    assert outbox[-1]["To"] == "new.hugo@example.com"
    assert client.post(link_for(outbox, "/confirm/")).status_code == 302
    user = get_user("hugo")
    assert user.email == "new.hugo@example.com"
    assert user.pending_email is None


def test_settings_email_change_to_a_taken_address_answers_as_usual_and_changes_nothing(
    client, login, outbox
):
    make_user("zapan", email="zapan@example.com")
    login(make_user("hugo"))
    response = client.post(
        "/settings",
        data={
            "email-action": "email",
            "email-email": "zapan@example.com",
            "email-current_password": PASSWORD,
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "We sent a link to the new address" in response.get_data(as_text=True)
    assert get_user("hugo").pending_email is None
    assert outbox == []


def test_settings_email_change_with_a_wrong_password_is_refused(client, login):
    login(make_user("hugo"))
    response = client.post(
        "/settings",
        data={
            "email-action": "email",
            "email-email": "new@example.com",
            "email-current_password": "wrong password",
        },
    )
    assert response.status_code == 400
    assert "Your current password is not right." in response.get_data(as_text=True)
    assert get_user("hugo").pending_email is None


def test_settings_password_change_keeps_this_session_and_ends_the_others(app, client, login):
    user = make_user("hugo")
    login(user)
    other = app.test_client()
    with other.session_transaction() as session:
        session["_user_id"] = user.get_id()
    response = client.post(
        "/settings",
        data={
            "password-action": "password",
            "password-current_password": PASSWORD,
            "password-new_password": NEW_PASSWORD,
            "password-confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert client.get("/settings").status_code == 200
    assert other.get("/settings").status_code == 302
    assert services.authenticate("hugo", NEW_PASSWORD) is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password-current_password": "wrong password"}, "Your current password is not right."),
        ({"password-new_password": "short", "password-confirm": "short"}, "at least 10"),
        ({"password-confirm": "different passphrase"}, "The passwords differ."),
    ],
)
def test_settings_password_change_refusals_change_nothing(client, login, fields, message):
    user = make_user("hugo")
    before = user.password_hash
    login(user)
    data = {
        "password-action": "password",
        "password-current_password": PASSWORD,
        "password-new_password": NEW_PASSWORD,
        "password-confirm": NEW_PASSWORD,
    }
    response = client.post("/settings", data={**data, **fields})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert get_user("hugo").password_hash == before


def test_settings_export_gives_my_data_as_json(client, login):
    login(make_user("hugo", bio="Alita forever"))
    response = client.post("/settings", data={"export-action": "export"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["username"] == "hugo"
    assert data["account"]["bio"] == "Alita forever"


def test_settings_delete_erases_the_account_and_logs_out(client, login):
    user = make_user("hugo", bio="private")
    user_id = user.id
    login(user)
    refused = client.post(
        "/settings", data={"delete-action": "delete", "delete-current_password": PASSWORD}
    )
    assert refused.status_code == 400
    assert "Tick the box to confirm." in refused.get_data(as_text=True)
    response = client.post(
        "/settings",
        data={
            "delete-action": "delete",
            "delete-current_password": PASSWORD,
            "delete-confirm": "y",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(User, user_id)
    assert row.is_deleted and row.email is None and row.bio == "" and row.name == "deleted user"
    assert logged_in_as(client) is None
    assert client.post("/login", data={"login": "hugo", "password": PASSWORD}).status_code == 400


def test_settings_post_without_a_known_form_is_400(client, login):
    login(make_user("hugo"))
    response = client.post("/settings", data={"whatever": "x"})
    assert response.status_code == 400
    assert "Unknown settings form." in response.get_data(as_text=True)


# Mail and transactions -----------------------------------------------------------------


def test_a_refused_registration_queues_no_mail(client, outbox):
    register(client, password="short", confirm="short")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert outbox == []


def test_a_deleted_users_posts_stay_and_are_shown_as_deleted_user(client, login):
    from fancampaign.forum.models import Post
    from tests.factories import make_thread

    user = make_user("hugo", display_name="Hugo Motorball")
    thread = make_thread(user, title="Sequel theories", body="My theory about Zalem.")
    thread_id = thread.id
    login(user)
    response = client.post(
        "/settings",
        data={
            "delete-action": "delete",
            "delete-current_password": PASSWORD,
            "delete-confirm": "y",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    posts = db.session.scalars(sa.select(Post).where(Post.thread_id == thread_id)).all()
    assert len(posts) == 1
    assert posts[0].author.name == "deleted user"
    page = client.get(f"/forum/t/{thread_id}", follow_redirects=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "My theory about Zalem." in html
    assert "deleted user" in html
    assert "Hugo Motorball" not in html


def test_an_unconfirmed_member_is_welcomed_not_welcomed_back(client):
    make_user("newbie", confirmed=False)
    response = client.post(
        "/login", data={"login": "newbie", "password": PASSWORD}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "Welcome, newbie. Confirm your email address" in page
    assert "Welcome back" not in page
