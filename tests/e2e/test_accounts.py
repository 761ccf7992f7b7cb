"""What a person sees: register, confirm by the emailed link, log out, log in again."""

from __future__ import annotations

import re

import sqlalchemy as sa

from fancampaign.accounts.models import User
from fancampaign.extensions import db
from tests.factories import PASSWORD, make_user


def test_register_confirm_logout_and_login_again(live_server, page, screenshot):
    page.goto(f"{live_server.url}/register")
    page.get_by_label("Username").fill("alita_fan")
    page.get_by_label("Email address").fill("Alita.Fan@Example.COM")
    page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    assert "Check your inbox" in page.content()
    assert page.get_by_role("button", name="Log out").count() == 0

    link = live_server.wait_for_link(r"/confirm/")
    page.goto(link)
    assert "alita.fan@example.com" in page.content()
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    assert "your email address is confirmed" in page.content()
    # Following the link logs the new member in.
    assert page.get_by_role("link", name="alita_fan").count() == 1
    db.session.rollback()
    user = db.session.scalar(sa.select(User).where(User.username_lower == "alita_fan"))
    assert user is not None
    assert user.is_confirmed

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    assert "You have logged out" in page.content()
    assert page.get_by_role("button", name="Log out").count() == 0

    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username or email address").fill("alita.fan@example.com")
    page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    page.get_by_label("Keep me logged in").check()
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "Welcome back, alita_fan" in page.content()
    cookies = {c["name"] for c in page.context.cookies()}
    assert "remember_token" in cookies
    path = screenshot("accounts-logged-in")
    assert path.exists()
    assert path.stat().st_size > 0


def test_wrong_password_is_refused_without_saying_which_part(live_server, page):
    make_user("hugo")
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username or email address").fill("hugo")
    page.get_by_label(re.compile(r"^Password")).fill("not the right password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert re.search(r"username or email and password do not match", page.content())
    assert page.get_by_role("button", name="Log out").count() == 0
