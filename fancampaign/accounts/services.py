"""Accounts: registration, confirmation, login, password reset, settings, erasure, roles.

Services flush and never commit; they take the acting user as an argument and raise
DomainError children. They never touch request, session or current_user.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import cache
from importlib import resources
from typing import IO, Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from fancampaign import policies, signals
from fancampaign.accounts.avatars import AVATAR_SIZE
from fancampaign.accounts.models import USER_COLUMNS, Role, User, UserRow, new_session_token
from fancampaign.errors import (
    AccountBanned,
    DomainError,
    EmailTaken,
    InputErrors,
    InvalidInput,
    InvalidToken,
    NotAllowed,
    UsernameTaken,
    WeakPassword,
)
from fancampaign.extensions import db, utcnow
from fancampaign.mail.services import queue_email
from fancampaign.news import images
from fancampaign.text import clean_multiline, clean_text

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,30}$")
RESERVED_USERNAMES = frozenset(
    [
        "admin",
        "administrator",
        "moderator",
        "mod",
        "mods",
        "organiser",
        "staff",
        "system",
        "root",
        "support",
        "help",
        "api",
        "fancampaign",
        "deleted",
        "anonymous",
        "guest",
        "null",
        "none",
        "everyone",
        "here",
        "settings",
        "login",
        "logout",
        "register",
        "news",
        "petitions",
        "forum",
        "search",
        "notifications",
        "moderation",
    ]
)
MIN_PASSWORD = 10
MAX_PASSWORD = 200


# Input rules --------------------------------------------------------------------------


def check_username(username: str, *, allow_reserved: bool = False) -> str:
    """A username is 3-30 letters, digits or underscores, not reserved; raises InvalidInput.

    allow_reserved lets the operator (command line, demo seeds) take a name like "admin";
    "deleted…" names stay reserved for erased accounts whatever the caller.
    """
    username = clean_text(username)
    if not USERNAME_RE.fullmatch(username):
        raise InvalidInput(
            "A username is 3 to 30 letters, digits or underscores.", field="username"
        )
    lowered = username.lower()
    if lowered.startswith("deleted") or (lowered in RESERVED_USERNAMES and not allow_reserved):
        raise InvalidInput("That username is reserved. Please choose another.", field="username")
    return username


def check_email(email: str) -> str:
    """A syntactically valid address, normalised (lower case); raises InvalidInput."""
    email = clean_text(email)
    if not email or len(email) > 254:
        raise InvalidInput("Enter a valid email address.", field="email")
    try:
        result = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"Enter a valid email address: {exc}", field="email") from exc
    return result.normalized.lower()


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("fancampaign").joinpath("data/common-passwords.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def password_problem(password: str, *, username: str = "", email: str = "") -> str | None:
    """Why a password is too weak, or None: length, common lists, the user's own name."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters."
    lowered = password.lower()
    base = re.sub(r"[\d\W_]+$", "", lowered)
    common = common_passwords()
    if lowered in common or base in common or len(set(lowered)) <= 2:
        return "That password is too common. Choose one that is harder to guess."
    if lowered.isdigit():
        return "Use more than digits."
    if username and username.lower() in lowered:
        return "Do not use your username in your password."
    if email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        return "Do not use your email address in your password."
    return None


def check_password(password: str, *, username: str = "", email: str = "") -> str:
    """Raises WeakPassword with the reason when the password is not acceptable."""
    problem = password_problem(password, username=username, email=email)
    if problem:
        raise WeakPassword(problem, field="password")
    return password


def hash_password(password: str) -> str:
    return generate_password_hash(password)


# Lookups ----------------------------------------------------------------------------


def get_by_username(username: str) -> User | None:
    # Anything that cannot be a username (a NUL byte in a URL, say) is nobody: PostgreSQL
    # refuses NUL in text parameters, and there is no point asking.
    if not USERNAME_RE.fullmatch(username):
        return None
    return db.session.scalar(sa.select(User).where(User.username_lower == username.lower()))


def get_by_email(email: str) -> User | None:
    email = email.strip().lower()
    if not email or len(email) > 254 or "\x00" in email:
        return None
    return db.session.scalar(sa.select(User).where(User.email == email))


def get_by_login(login: str) -> User | None:
    """A user by username or by email address."""
    login = clean_text(login)
    if "@" in login:
        return get_by_email(login)
    return get_by_username(login)


# Tokens -----------------------------------------------------------------------------


def _serializer(secret_key: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=salt)


def _password_fingerprint(user: User) -> str:
    # Changes when the password does: a reset token works once.
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def make_confirm_token(user: User, secret_key: str) -> str:
    email = user.pending_email or user.email
    return _serializer(secret_key, "confirm-email").dumps({"u": user.id, "e": email})


def make_reset_token(user: User, secret_key: str) -> str:
    return _serializer(secret_key, "reset-password").dumps(
        {"u": user.id, "h": _password_fingerprint(user)}
    )


def _load(token: str, secret_key: str, salt: str, max_age: int) -> dict[str, Any]:
    try:
        data = _serializer(secret_key, salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidToken("That link has expired. Please ask for a new one.") from exc
    except (BadSignature, ValueError, UnicodeError) as exc:
        raise InvalidToken("That link is not valid. Please check you copied all of it.") from exc
    if not isinstance(data, dict):
        raise InvalidToken()
    return data


def user_for_confirm_token(token: str, secret_key: str, max_age: int) -> User:
    """The user a confirmation link is for; raises InvalidToken."""
    data = _load(token, secret_key, "confirm-email", max_age)
    user = db.session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or user.is_deleted:
        raise InvalidToken()
    return user


def confirm_token_email(token: str, secret_key: str, max_age: int) -> str:
    """The address a confirmation link was sent to; raises InvalidToken."""
    email = _load(token, secret_key, "confirm-email", max_age).get("e")
    if not isinstance(email, str):
        raise InvalidToken()
    return email


def user_for_reset_token(token: str, secret_key: str, max_age: int) -> User:
    """The user a reset link is for while it is unused; raises InvalidToken."""
    data = _load(token, secret_key, "reset-password", max_age)
    user = db.session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or user.is_deleted or data.get("h") != _password_fingerprint(user):
        raise InvalidToken("That link has already been used or is no longer valid.")
    return user


# Registration and confirmation ----------------------------------------------------


def register_user(
    username: str,
    email: str,
    password: str,
    *,
    display_name: str = "",
    role: Role = Role.MEMBER,
    confirmed: bool = False,
    allow_reserved: bool = False,
) -> User:
    """Create an account; raises UsernameTaken, EmailTaken, or InvalidInput / WeakPassword
    (InputErrors when several fields are wrong: every input problem is told at once)."""
    problems: list[DomainError] = []
    try:
        username = check_username(username, allow_reserved=allow_reserved)
    except InvalidInput as err:
        problems.append(err)
    try:
        email = check_email(email)
    except InvalidInput as err:
        problems.append(err)
    try:
        check_password(password, username=username, email=email)
    except InvalidInput as err:
        problems.append(err)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InputErrors(problems)
    # Hashed before the lookups: a known address must not answer faster than a new one.
    password_hash = hash_password(password)
    if get_by_username(username) is not None:
        raise UsernameTaken()
    if get_by_email(email) is not None:
        raise EmailTaken()
    user = User(
        username=username,
        username_lower=username.lower(),
        email=email,
        password_hash=password_hash,
        display_name=clean_text(display_name)[:60],
        role=role,
        email_confirmed_at=utcnow() if confirmed else None,
    )
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError as exc:
        # A concurrent registration won the race for the name or the address.
        if get_by_username(username) is not None:
            raise UsernameTaken() from exc
        raise EmailTaken() from exc
    if confirmed:
        signals.email_confirmed.send(user)
    return user


def send_confirmation(user: User, secret_key: str, base_url: str) -> None:
    """Queue the email with the confirmation link for the user's (pending) address."""
    token = make_confirm_token(user, secret_key)
    to = user.pending_email or user.email
    if not to:
        return
    queue_email(
        to,
        "Confirm your email address",
        f"Hello {user.username},\n\n"
        f"Please confirm your email address for your fancampaign account by opening this "
        f"link and pressing the Confirm button:\n\n{base_url}/confirm/{token}\n\n"
        f"If you did not ask for this, you can ignore this email.\n",
    )


def confirm_email(user: User, token_email: str) -> bool:
    """Confirm the address the link was sent to; False when it was already confirmed.

    Raises InvalidToken when the link is for an address the account no longer uses.
    """
    if user.pending_email and user.pending_email == token_email:
        if get_by_email(token_email) is not None:
            raise EmailTaken()
        user.email = token_email
        user.pending_email = None
        user.email_confirmed_at = utcnow()
        db.session.flush()
        signals.email_confirmed.send(user)
        return True
    if user.email != token_email:
        raise InvalidToken("That link is for an address this account no longer uses.")
    if user.is_confirmed:
        return False
    user.email_confirmed_at = utcnow()
    db.session.flush()
    signals.email_confirmed.send(user)
    return True


# Login ------------------------------------------------------------------------------


def authenticate(login: str, password: str) -> User | None:
    """The user for these credentials, or None (one answer for every failure).

    Raises AccountBanned for a banned account with the right password.
    """
    user = get_by_login(login)
    if user is None or user.is_deleted or not user.password_hash:
        # Spend the same time as a real check so response times do not reveal accounts.
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    if user.is_banned:
        raise AccountBanned("This account has been banned.")
    user.last_login_at = utcnow()
    return user


_DUMMY_HASH = generate_password_hash("not-a-real-password-0")


Marks = dict[str, tuple[Any, dict[str, Any]]]


def load_session_user(session_id: str) -> User | None:
    """The user for a login cookie ("id:token"), or None if it no longer holds."""
    found, _ = read_session_user(session_id, {})
    return None if found is None else as_user(found)


def read_session_user(session_id: str, marks: Marks) -> tuple[UserRow | None, dict[str, Any]]:
    """(the users row of a login cookie, or None if it no longer holds; the values of `marks`).

    `marks`: {name: (a column correlated to users.id, its parameters)}, read in the same query
    (a page's questions about its viewer, such as their likes among its posts).

    The row comes as plain values, not as a `User`: most logged-in requests are served a
    page shared by every member, which needs no more, and the ORM's loading is a tenth of such
    a request. `as_user` makes the `User` from it, without a query.
    """
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None, {}
    names, params = _mark_params(int(user_id), marks)
    statement = _marked_statement("login", names, marks, _session_user_base)
    row = _first_row(statement, params)
    if row is None:
        return None, {}
    width = len(UserRow.__slots__)
    found = UserRow(row[:width])
    found.has_hidden_content = bool(found.has_hidden_content)
    if found.session_token != token or not found.is_active:
        return None, {}
    return found, dict(zip(names, row[width:], strict=True))


def as_user(found: UserRow) -> User:
    """The session's `User` for a row `read_session_user` read: the one the session holds
    already, or one made from the row's values as if loaded by a query (no query)."""
    key = User.__mapper__.identity_key_from_primary_key((found.id,))
    user = db.session.identity_map.get(key)
    if user is None:
        user = User(**{name: getattr(found, name) for name in USER_COLUMNS})
        make_transient_to_detached(user)  # as loaded: no history, nothing to flush
        db.session.add(user)
    else:
        # Expired since it was loaded (a commit): filled from the row, as a query would.
        for name in sa.inspect(user).unloaded.intersection(USER_COLUMNS):
            set_committed_value(user, name, getattr(found, name))
    user.loaded_unread = found.loaded_unread
    user.has_hidden_content = found.has_hidden_content
    user.loaded_settings_version = found.loaded_settings_version
    return user  # type: ignore[no-any-return]


def read_marks(user_id: int, marks: Marks) -> dict[str, Any]:
    """The values of these marks (see `read_session_user`) for one user, in one query; None
    for a user with no row (the stand-in of a page shared by every member has none)."""
    names, params = _mark_params(user_id, marks)
    statement = _marked_statement("alone", names, marks, _marks_base)
    row = _first_row(statement, params)
    return dict(zip(names, row or (None,) * len(names), strict=True))


def _mark_params(user_id: int, marks: Marks) -> tuple[tuple[str, ...], dict[str, Any]]:
    names = tuple(sorted(marks))
    params: dict[str, Any] = {"user_id": user_id}
    for name in names:
        params.update(marks[name][1])
    return names, params


_MARKED: dict[tuple[str, tuple[str, ...]], sa.Select[Any]] = {}


def _marked_statement(kind: str, names: tuple[str, ...], marks: Marks, base: Any) -> sa.Select[Any]:
    """`base()` with these mark columns, built once per set of names (a name always stands
    for the same column)."""
    statement = _MARKED.get((kind, names))
    if statement is None:
        statement = base().add_columns(*(marks[name][0].label(name) for name in names))
        _MARKED[(kind, names)] = statement
    return statement


def _first_row(statement: sa.Select[Any], params: dict[str, Any]) -> sa.Row[Any] | None:
    """The statement's first row as plain values (Core: no ORM loading), after flushing what
    this request changed, as an ORM query would."""
    if db.session.autoflush:
        db.session.flush()
    return db.session.connection().execute(statement, params).first()


def _marks_base() -> sa.Select[Any]:
    return sa.select().select_from(User).where(User.id == sa.bindparam("user_id"))


@cache
def _session_user_base() -> sa.Select[Any]:
    """The user, their unread notifications, whether they wrote anything hidden (which only
    they see, so the pages shared by every member can't describe them) and the site
    settings' version (admin/sitesettings.py: reading a setting then costs no query while the
    worker's copy is current), in one query: every logged-in request runs it."""
    from fancampaign.admin.models import SiteSettings
    from fancampaign.forum.models import Post, Thread
    from fancampaign.notifications.models import Notification

    users, notifications = User.__table__, Notification.__table__
    posts, threads = Post.__table__, Thread.__table__
    unread = (
        sa.select(sa.func.count())
        .select_from(notifications)
        .where(notifications.c.user_id == users.c.id, notifications.c.read_at.is_(None))
        .scalar_subquery()
    )
    hidden = sa.or_(
        sa.exists().where(posts.c.author_id == users.c.id, posts.c.is_hidden == sa.true()),
        sa.exists().where(threads.c.author_id == users.c.id, threads.c.is_hidden == sa.true()),
    )
    settings = SiteSettings.__table__
    version = sa.select(settings.c.version).where(settings.c.id == 1).scalar_subquery()
    return sa.select(*users.c, unread, hidden, version).where(users.c.id == sa.bindparam("user_id"))


# Password reset ---------------------------------------------------------------------


def request_password_reset(email: str, secret_key: str, base_url: str) -> None:
    """Email a reset link if the address has an account; the caller says the same either way.

    Raises InvalidInput for something that is not an email address (that reveals nothing).
    """
    email = check_email(email)
    user = get_by_email(email)
    if user is None or user.is_deleted or user.is_banned:
        return
    token = make_reset_token(user, secret_key)
    queue_email(
        user.email or email,
        "Reset your password",
        f"Hello {user.username},\n\nSomeone (hopefully you) asked to reset the password of your "
        f"fancampaign account. Open this link within an hour to choose a new one:\n\n"
        f"{base_url}/reset-password/{token}\n\nIf it was not you, ignore this email: your "
        f"password stays as it is.\n",
    )


def end_sessions(user: User) -> None:
    """Log the user out everywhere: every session and remember-me cookie issued so far stops
    working (they hold the session token, which changes). Logging out does this."""
    user.session_token = new_session_token()
    db.session.flush()


def reset_password(user: User, new_password: str) -> None:
    """Set a new password and log out every other session; raises WeakPassword."""
    check_password(new_password, username=user.username, email=user.email or "")
    user.password_hash = hash_password(new_password)
    end_sessions(user)
    # Following the emailed link proves the address.
    if not user.is_confirmed:
        user.email_confirmed_at = utcnow()
    db.session.flush()


# Settings ---------------------------------------------------------------------------


def update_profile(user: User, *, display_name: str, bio: str) -> None:
    """Change the display name and bio; raises InvalidInput, and NotAllowed when an account
    not in good standing changes what others see of it. (What we notify by email is chosen
    per type: notifications/services.py `save_preferences`.)"""
    display_name = clean_text(display_name)[:60]
    bio = clean_multiline(bio)
    if len(bio) > 2000:
        raise InvalidInput("Keep your bio under 2,000 characters.")
    if (display_name, bio) != (user.display_name, user.bio) and not (
        policies.can_edit_public_profile(user)
    ):
        raise NotAllowed("Your account is suspended, so your public profile cannot change for now.")
    user.display_name = display_name
    user.bio = bio
    db.session.flush()


def set_avatar(user: User, upload: IO[bytes]) -> None:
    """Use an uploaded picture as the avatar, checked and re-encoded as cover images are
    (a centred square); raises NotAllowed for an account not in good standing, InvalidInput
    (field "avatar") for anything but a JPEG, PNG or WebP picture of a sensible size."""
    if not policies.can_edit_public_profile(user):
        raise NotAllowed("Your account is suspended, so your picture cannot change for now.")
    image = images.read_upload(
        upload,
        current_app.config["UPLOAD_MAX_BYTES"],
        what="Your picture",
        field="avatar",
        square=AVATAR_SIZE,
    )
    images.write(image)
    user.avatar_key = images.filename(image.key, AVATAR_SIZE, image.prefix)
    db.session.flush()


def remove_avatar(user: User) -> None:
    """Go back to the generated letter avatar; raises NotAllowed as set_avatar does."""
    if not policies.can_edit_public_profile(user):
        raise NotAllowed("Your account is suspended, so your picture cannot change for now.")
    user.avatar_key = None
    db.session.flush()


def _require_password(user: User, password: str) -> None:
    if not user.password_hash or not check_password_hash(user.password_hash, password):
        raise NotAllowed("Your current password is not right.")


def change_email(user: User, new_email: str, current_password: str) -> str:
    """Start an email change: the new address holds only once its link is followed."""
    _require_password(user, current_password)
    new_email = check_email(new_email)
    if new_email == user.email:
        raise InvalidInput("That is already your email address.")
    if get_by_email(new_email) is not None:
        raise EmailTaken()
    user.pending_email = new_email
    db.session.flush()
    return new_email


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change the password (current one required); other sessions are logged out."""
    _require_password(user, current_password)
    check_password(new_password, username=user.username, email=user.email or "")
    user.password_hash = hash_password(new_password)
    end_sessions(user)


def export_data(user: User) -> dict[str, Any]:
    """Everything we hold about the user, as JSON-able data."""
    data: dict[str, Any] = {
        "account": {
            "username": user.username,
            "email": user.email,
            "pending_email": user.pending_email,
            "display_name": user.display_name,
            "bio": user.bio,
            "role": str(user.role),
            "email_confirmed_at": _iso(user.email_confirmed_at),
            "created_at": _iso(user.created_at),
            "last_login_at": _iso(user.last_login_at),
        }
    }
    for _receiver, part in signals.account_exporting.send(user):
        if part:
            key, value = part
            data[key] = value
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def delete_account(user: User, current_password: str) -> None:
    """Erase the account's personal data; what they wrote stays, shown as "deleted user"."""
    _require_password(user, current_password)
    erase_user(user)


def erase_user(user: User) -> None:
    """Anonymise a user row and tell every area to erase what it holds."""
    signals.account_deleting.send(user)
    user.username = f"deleted{user.id}"
    user.username_lower = user.username
    user.email = None
    user.pending_email = None
    user.password_hash = None
    user.display_name = ""
    user.bio = ""
    user.avatar_key = None
    user.deleted_at = utcnow()
    user.session_token = new_session_token()
    db.session.flush()


# Roles ------------------------------------------------------------------------------


def set_role(actor: User | None, target: User, role: Role) -> None:
    """Give a user a role; only admins may (actor None means the command line)."""
    if actor is not None and not policies.can_set_role(actor, target, role):
        raise NotAllowed("Only admins can change roles, and not their own.")
    target.role = Role(role)
    db.session.flush()
