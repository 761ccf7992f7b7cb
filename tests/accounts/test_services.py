"""Account services called directly: the rules, the errors they raise, the rows they change."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from fancampaign import signals
from fancampaign.accounts import services
from fancampaign.accounts.models import USER_COLUMNS, Role, User, UserRow
from fancampaign.errors import (
    AccountBanned,
    EmailTaken,
    InvalidInput,
    InvalidToken,
    NotAllowed,
    UsernameTaken,
    WeakPassword,
)
from fancampaign.extensions import db, utcnow
from fancampaign.mail.models import OutboxMessage
from tests.factories import PASSWORD, make_user
from tests.helpers import count_queries

SECRET = "test-secret-key"


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def outbox_rows() -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


# Registration -------------------------------------------------------------------------


def test_register_user_stores_a_normalised_unconfirmed_member(app):
    user = services.register_user("Alita_Fan", "  Alita.Fan@EXAMPLE.com ", PASSWORD)
    assert user.username == "Alita_Fan"
    assert user.username_lower == "alita_fan"
    assert user.email == "alita.fan@example.com"
    assert user.role == Role.MEMBER
    assert not user.is_confirmed
    assert user.password_hash and PASSWORD not in user.password_hash


@pytest.mark.parametrize("other", ["alita", "ALITA", "Alita", "aLiTa"])
def test_usernames_are_unique_in_any_case(app, other):
    make_user("Alita")
    with pytest.raises(UsernameTaken):
        services.register_user(other, "other@example.com", PASSWORD)


@pytest.mark.parametrize("other", ["alita@example.com", "ALITA@example.com", "Alita@Example.COM"])
def test_emails_are_unique_in_any_case(app, other):
    make_user("alita", email="alita@example.com")
    with pytest.raises(EmailTaken):
        services.register_user("someone", other, PASSWORD)


@pytest.mark.parametrize(
    "username",
    [
        "ab",
        "x" * 31,
        "has space",
        "dash-ed",
        "dot.ted",
        "émile",
        "\uff41\uff44\uff4d\uff49\uff4e",
        "na\u00a0me",
        "",
        "   ",
    ],
)
def test_usernames_are_3_to_30_ascii_letters_digits_or_underscores(app, username):
    with pytest.raises(InvalidInput, match="3 to 30"):
        services.register_user(username, "x@example.com", PASSWORD)
    assert user_count() == 0


@pytest.mark.parametrize("username", ["admin", "Moderator", "deleted42", "settings"])
def test_reserved_usernames_are_refused(app, username):
    with pytest.raises(InvalidInput, match="reserved"):
        services.register_user(username, "x@example.com", PASSWORD)


@pytest.mark.parametrize(
    "email", ["", "plainaddress", "a@b", "@example.com", "a@@example.com", "a b@example.com"]
)
def test_invalid_email_addresses_are_refused(app, email):
    with pytest.raises(InvalidInput, match="valid email"):
        services.register_user("someone", email, PASSWORD)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 10"),
        ("password123", "too common"),
        ("1234567890", "too common|digits"),
        ("qwertyuiop", "too common"),
        ("aaaaaaaaaaaa", "too common"),
        ("x" * 201, "at most 200"),
        ("someone-is-my-name", "username"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(app, password, reason):
    with pytest.raises(WeakPassword, match=reason):
        services.register_user("someone", "x@example.com", password)
    assert user_count() == 0


def test_every_shipped_common_password_is_refused(app):
    common = [p for p in services.common_passwords() if len(p) >= 10]
    assert common, "the shipped list has passwords of 10+ characters"
    for password in common[:50]:
        assert services.password_problem(password) is not None


def test_a_long_uncommon_password_is_accepted(app):
    assert services.password_problem(PASSWORD, username="fan", email="fan@example.com") is None


# Confirmation tokens ------------------------------------------------------------------


def test_confirmation_link_confirms_the_address_once(app):
    user = make_user(confirmed=False)
    token = services.make_confirm_token(user, SECRET)
    found = services.user_for_confirm_token(token, SECRET, 3600)
    assert found.id == user.id
    assert services.confirm_email(found, user.email) is True
    assert user.is_confirmed
    assert services.confirm_email(found, user.email) is False


def test_confirming_sends_the_email_confirmed_signal(app):
    user = make_user(confirmed=False)
    received = []

    def receiver(sender, **kw):
        received.append(sender)

    signals.email_confirmed.connect(receiver)
    try:
        services.confirm_email(user, user.email)
    finally:
        signals.email_confirmed.disconnect(receiver)
    assert received == [user]


def test_a_tampered_confirmation_token_is_invalid(app):
    user = make_user(confirmed=False)
    token = services.make_confirm_token(user, SECRET)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    with pytest.raises(InvalidToken, match="not valid"):
        services.user_for_confirm_token(tampered, SECRET, 3600)
    with pytest.raises(InvalidToken, match="not valid"):
        services.user_for_confirm_token(token, "another-secret", 3600)


def test_an_expired_confirmation_token_is_invalid(app):
    user = make_user(confirmed=False)
    token = services.make_confirm_token(user, SECRET)
    with pytest.raises(InvalidToken, match="expired"):
        services.user_for_confirm_token(token, SECRET, -1)


def test_an_old_confirmation_token_expires_with_time(app):
    user = make_user(confirmed=False)
    with mock.patch("itsdangerous.timed.time.time", return_value=1_000_000_000):
        token = services.make_confirm_token(user, SECRET)
    with pytest.raises(InvalidToken, match="expired"):
        services.user_for_confirm_token(token, SECRET, 7 * 24 * 3600)


def test_a_reset_token_does_not_confirm_an_email(app):
    user = make_user(confirmed=False)
    token = services.make_reset_token(user, SECRET)
    with pytest.raises(InvalidToken):
        services.user_for_confirm_token(token, SECRET, 3600)


def test_a_token_for_a_deleted_user_is_invalid(app):
    user = make_user(confirmed=False)
    token = services.make_confirm_token(user, SECRET)
    services.erase_user(user)
    with pytest.raises(InvalidToken):
        services.user_for_confirm_token(token, SECRET, 3600)


def test_a_signed_token_with_an_odd_payload_is_invalid(app):
    odd = URLSafeTimedSerializer(SECRET, salt="confirm-email").dumps(["not", "a", "dict"])
    with pytest.raises(InvalidToken):
        services.user_for_confirm_token(odd, SECRET, 3600)
    odd = URLSafeTimedSerializer(SECRET, salt="confirm-email").dumps({"u": "1", "e": "x"})
    with pytest.raises(InvalidToken):
        services.user_for_confirm_token(odd, SECRET, 3600)


# Login ---------------------------------------------------------------------------------


def test_authenticate_by_username_in_any_case_or_by_email(app):
    user = make_user("Hugo", email="hugo@example.com")
    assert services.authenticate("Hugo", PASSWORD) is user
    assert services.authenticate("hugo", PASSWORD) is user
    assert services.authenticate("HUGO@Example.com", PASSWORD) is user
    assert user.last_login_at is not None


@pytest.mark.parametrize("login", ["hugo", "nobody", "nobody@example.com", ""])
def test_authenticate_gives_one_answer_for_every_failure(app, login):
    make_user("hugo")
    assert services.authenticate(login, "wrong password here") is None


def test_a_banned_user_cannot_log_in(app):
    make_user("hugo", is_banned=True)
    with pytest.raises(AccountBanned):
        services.authenticate("hugo", PASSWORD)
    # A wrong password says nothing about the ban.
    assert services.authenticate("hugo", "wrong password here") is None


def test_a_deleted_user_cannot_log_in(app):
    user = make_user("hugo")
    services.erase_user(user)
    assert services.authenticate(user.username, PASSWORD) is None


def test_the_session_cookie_stops_working_when_the_token_rotates_or_the_user_is_banned(app):
    user = make_user("hugo")
    session_id = user.get_id()
    assert services.load_session_user(session_id) is user
    user.is_banned = True
    assert services.load_session_user(session_id) is None
    user.is_banned = False
    user.session_token = "rotated"
    assert services.load_session_user(session_id) is None
    assert services.load_session_user("junk") is None
    assert services.load_session_user("12:") is None


def test_a_login_read_as_a_row_makes_the_same_user_without_a_query(app):
    user = make_user("hugo", display_name="Hugo B", role=Role.ORGANISER)
    user.suspended_until = utcnow() + timedelta(days=1)
    db.session.commit()
    session_id, user_id = user.get_id(), user.id
    db.session.expunge_all()
    found, _ = services.read_session_user(session_id, {})
    assert isinstance(found, UserRow) and found.is_suspended and found.name == "Hugo B"

    with count_queries() as queries:
        made = services.as_user(found)
    assert queries == []
    assert made in db.session and not sa.inspect(made).modified
    as_loaded = {name: getattr(made, name) for name in USER_COLUMNS}
    db.session.expunge_all()
    loaded = db.session.get(User, user_id)
    assert as_loaded == {name: getattr(loaded, name) for name in USER_COLUMNS}

    # Made, it is the session's own: a change to it is written as to a loaded user ...
    db.session.expunge_all()
    made = services.as_user(found)
    made.bio = "Sequel fan"
    db.session.commit()
    assert db.session.scalar(sa.select(User.bio).where(User.id == user_id)) == "Sequel fan"
    # ... and a user the session holds already is the one it gives, filled from the row
    # (not by a query of its own) when a commit expired it.
    loaded = db.session.get(User, user_id)
    db.session.commit()
    found, _ = services.read_session_user(session_id, {})
    with count_queries() as queries:
        assert services.as_user(found) is loaded
        assert (loaded.username, loaded.bio) == ("hugo", "Sequel fan")
    assert queries == []


# Password reset ------------------------------------------------------------------------


def test_reset_request_queues_a_link_for_a_known_address_only(app):
    make_user("hugo", email="hugo@example.com")
    services.request_password_reset("HUGO@example.com", SECRET, "http://site")
    services.request_password_reset("nobody@example.com", SECRET, "http://site")
    with pytest.raises(InvalidInput):
        services.request_password_reset("not an address", SECRET, "http://site")
    rows = outbox_rows()
    assert [m.to for m in rows] == ["hugo@example.com"]
    assert "http://site/reset-password/" in rows[0].body


def test_reset_request_for_a_banned_account_sends_nothing(app):
    make_user("hugo", email="hugo@example.com", is_banned=True)
    services.request_password_reset("hugo@example.com", SECRET, "http://site")
    assert outbox_rows() == []


def test_a_reset_token_works_once(app):
    user = make_user("hugo")
    old_session = user.session_token
    token = services.make_reset_token(user, SECRET)
    found = services.user_for_reset_token(token, SECRET, 3600)
    services.reset_password(found, "a brand new long passphrase")
    assert services.authenticate("hugo", "a brand new long passphrase") is user
    assert user.session_token != old_session
    with pytest.raises(InvalidToken, match="already been used"):
        services.user_for_reset_token(token, SECRET, 3600)


def test_an_expired_reset_token_is_invalid(app):
    user = make_user("hugo")
    token = services.make_reset_token(user, SECRET)
    with pytest.raises(InvalidToken, match="expired"):
        services.user_for_reset_token(token, SECRET, -1)


def test_reset_refuses_a_weak_password_and_changes_nothing(app):
    user = make_user("hugo")
    before = user.password_hash
    with pytest.raises(WeakPassword):
        services.reset_password(user, "short")
    assert user.password_hash == before


def test_following_a_reset_link_confirms_the_address(app):
    user = make_user("hugo", confirmed=False)
    services.reset_password(user, "a brand new long passphrase")
    assert user.is_confirmed


# Settings ------------------------------------------------------------------------------


def test_update_profile_cleans_the_text(app):
    user = make_user("hugo")
    services.update_profile(
        user,
        display_name="  Hugo \t the   fan ",
        bio="line one  \r\nline two\n\n",
    )
    assert user.display_name == "Hugo the fan"
    assert user.bio == "line one\nline two"


def test_a_bio_over_2000_characters_is_refused(app):
    user = make_user("hugo")
    with pytest.raises(InvalidInput):
        services.update_profile(user, display_name="", bio="x" * 2001)


def test_an_email_change_waits_for_the_new_address_to_be_confirmed(app):
    user = make_user("hugo", email="hugo@example.com")
    services.change_email(user, "Hugo.New@example.com", PASSWORD)
    assert user.email == "hugo@example.com"
    assert user.pending_email == "hugo.new@example.com"
    token = services.make_confirm_token(user, SECRET)
    found = services.user_for_confirm_token(token, SECRET, 3600)
    assert services.confirm_email(found, "hugo.new@example.com") is True
    assert user.email == "hugo.new@example.com"
    assert user.pending_email is None


def test_an_email_change_needs_the_current_password(app):
    user = make_user("hugo")
    with pytest.raises(NotAllowed, match="current password"):
        services.change_email(user, "new@example.com", "wrong password")
    assert user.pending_email is None


def test_an_email_change_to_a_taken_address_is_refused(app):
    make_user("zapan", email="zapan@example.com")
    user = make_user("hugo")
    with pytest.raises(EmailTaken):
        services.change_email(user, "ZAPAN@example.com", PASSWORD)
    with pytest.raises(InvalidInput, match="already your"):
        services.change_email(user, user.email, PASSWORD)


def test_an_old_address_link_is_refused_after_the_email_changed(app):
    user = make_user("hugo", email="hugo@example.com", confirmed=False)
    old_token = services.make_confirm_token(user, SECRET)
    services.change_email(user, "new@example.com", PASSWORD)
    services.confirm_email(user, "new@example.com")
    found = services.user_for_confirm_token(old_token, SECRET, 3600)
    with pytest.raises(InvalidToken, match="no longer uses"):
        services.confirm_email(found, "hugo@example.com")


def test_confirming_a_pending_address_someone_took_meanwhile_is_refused(app):
    user = make_user("hugo")
    services.change_email(user, "new@example.com", PASSWORD)
    make_user("zapan", email="new@example.com")
    with pytest.raises(EmailTaken):
        services.confirm_email(user, "new@example.com")
    assert user.email == "hugo@example.com"


def test_change_password_needs_the_current_one_and_logs_out_other_sessions(app):
    user = make_user("hugo")
    token = user.session_token
    with pytest.raises(NotAllowed):
        services.change_password(user, "wrong password", "another long passphrase")
    with pytest.raises(WeakPassword):
        services.change_password(user, PASSWORD, "short")
    assert user.session_token == token
    services.change_password(user, PASSWORD, "another long passphrase")
    assert user.session_token != token
    assert services.authenticate("hugo", "another long passphrase") is user


def test_export_data_is_json_and_has_the_account(app):
    user = make_user("hugo", bio="Alita forever")
    data = services.export_data(user)
    json.dumps(data)
    assert data["account"]["username"] == "hugo"
    assert data["account"]["email"] == "hugo@example.com"
    assert data["account"]["bio"] == "Alita forever"


def test_export_data_shows_the_notification_choices_per_type(app):
    user = make_user("hugo")
    data = services.export_data(user)
    assert "notify_by_email" not in data["account"]
    assert data["notification_settings"]["channels"]["reply"] == "email"
    assert data["notification_settings"]["digest"] == "weekly"


def test_export_data_includes_what_other_areas_add(app):
    user = make_user("hugo")

    def receiver(sender, **kw):
        return ("extra", {"n": 1})

    signals.account_exporting.connect(receiver)
    try:
        data = services.export_data(user)
    finally:
        signals.account_exporting.disconnect(receiver)
    assert data["extra"] == {"n": 1}


def test_delete_account_erases_personal_data_and_keeps_the_row(app):
    user = make_user("hugo", display_name="Hugo", bio="secret bio")
    told = []

    def receiver(sender, **kw):
        told.append(sender.id)

    signals.account_deleting.connect(receiver)
    try:
        with pytest.raises(NotAllowed):
            services.delete_account(user, "wrong password")
        assert not user.is_deleted
        services.delete_account(user, PASSWORD)
    finally:
        signals.account_deleting.disconnect(receiver)
    db.session.commit()
    assert told == [user.id]
    row = db.session.get(User, user.id)
    assert row.is_deleted
    assert row.name == "deleted user"
    assert row.email is None
    assert row.password_hash is None
    assert row.display_name == ""
    assert row.bio == ""
    assert "hugo" not in row.username
    assert services.get_by_username("hugo") is None
    # The name and the address are free again.
    services.register_user("hugo", "hugo@example.com", PASSWORD)


# Roles ---------------------------------------------------------------------------------


def test_only_admins_set_roles_and_not_their_own(app):
    admin = make_user("boss", role=Role.ADMIN)
    moderator = make_user("gelda", role=Role.MODERATOR)
    member = make_user("hugo")
    services.set_role(admin, member, Role.ORGANISER)
    assert member.role == Role.ORGANISER
    with pytest.raises(NotAllowed):
        services.set_role(moderator, member, Role.ADMIN)
    with pytest.raises(NotAllowed):
        services.set_role(admin, admin, Role.MEMBER)
    services.set_role(None, member, Role.MODERATOR)  # the command line
    assert member.role == Role.MODERATOR


def test_the_operator_may_take_a_reserved_name_but_never_a_deleted_one(app):
    user = services.register_user("admin", "root@example.com", PASSWORD, allow_reserved=True)
    assert user.username == "admin"
    with pytest.raises(InvalidInput, match="reserved"):
        services.register_user("deleted7", "d@example.com", PASSWORD, allow_reserved=True)


@pytest.mark.parametrize("name", ["a\x00b", "x" * 5000, "", "émile", "hugo\n", "a\x00@b.example"])
def test_lookups_with_impossible_names_find_nobody_without_error(app, name):
    make_user("hugo")
    assert services.get_by_username(name) is None
    assert services.get_by_email(name) is None


def test_registering_with_several_bad_fields_names_them_all():
    from fancampaign.errors import InputErrors

    with pytest.raises(InputErrors) as caught:
        services.register_user("a", "not-an-email", "short")
    assert [e.details["field"] for e in caught.value.errors] == ["username", "email", "password"]


def test_suspended_member_cannot_change_their_public_profile(app):
    user = make_user(display_name="Before")
    user.suspended_until = utcnow() + timedelta(days=2)
    db.session.commit()
    with pytest.raises(NotAllowed):
        services.update_profile(user, display_name="Spam here", bio="")
    assert user.display_name == "Before"
