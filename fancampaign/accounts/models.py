"""Users and their roles."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fancampaign.extensions import db, utcnow


class Role(enum.StrEnum):
    MEMBER = "member"
    ORGANISER = "organiser"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    @property
    def label(self) -> str:
        return self.value.capitalize()


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class UserState:
    """What a user's columns say about them, for a `User` and for a `UserRow` alike (one
    place for these rules, whichever way the row was read)."""

    __slots__ = ()

    # Read with the user when a login cookie loads it (accounts.services.read_session_user),
    # which spares each request its own queries; None: not read.
    loaded_unread = None
    loaded_settings_version = None
    has_hidden_content = None

    # Flask-Login protocol
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return not self.is_banned and self.deleted_at is None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    # State predicates
    @property
    def is_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def is_suspended(self) -> bool:
        return self.suspended_until is not None and self.suspended_until > utcnow()

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def name(self) -> str:
        """What the site shows for this person."""
        if self.is_deleted:
            return "deleted user"
        return self.display_name or self.username


class User(UserState, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(30))
    # Uniqueness is case-insensitive: "Alita" and "alita" are one name.
    username_lower: Mapped[str] = mapped_column(sa.String(30), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    # Set while a changed address waits for its confirmation link.
    pending_email: Mapped[str | None] = mapped_column(sa.String(254))
    password_hash: Mapped[str | None] = mapped_column(sa.String(256))
    display_name: Mapped[str] = mapped_column(sa.String(60), default="")
    bio: Mapped[str] = mapped_column(sa.Text, default="")
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=Role.MEMBER,
    )
    email_confirmed_at: Mapped[datetime | None]
    suspended_until: Mapped[datetime | None]
    is_banned: Mapped[bool] = mapped_column(default=False)
    deleted_at: Mapped[datetime | None]
    # Part of the login cookie: rotating it logs the user out everywhere (ban, password change).
    session_token: Mapped[str] = mapped_column(sa.String(32), default=new_session_token)
    # An uploaded picture (a file under UPLOAD_FOLDER, see accounts/avatars.py); None: the
    # generated letter avatar.
    avatar_key: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<User {self.username}>"


# The users table's columns, in its order (each column's attribute has the column's name).
USER_COLUMNS = tuple(column.key for column in User.__table__.columns)


class UserRow(UserState):
    """A users row read as plain values, with no ORM object behind it (what
    `accounts.services.read_session_user` reads): all that a page shared by every member
    needs of its viewer, without the ORM's cost of loading a `User` on every request.
    `accounts.services.as_user` makes the `User` when the request needs one."""

    __slots__ = (*USER_COLUMNS, "loaded_unread", "has_hidden_content", "loaded_settings_version")

    def __init__(self, values: Sequence[Any]) -> None:
        """`values`: one per name of `__slots__`, in that order."""
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"<UserRow {self.username}>"
