"""The viewer of a page: who they are, and what a page asks about them.

A page shared by every member asks a few questions about its viewer ("which of these posts do
they like?", "did they sign this petition?"). Each is a *mark*: a column correlated to the
viewer's users row, read in the login's own query (`load_viewer`) or, for a viewer already
loaded, in one query of its own (`read_marks`). The areas make their marks with `id_mark`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import g, session

from fancampaign import policies
from fancampaign.accounts import services
from fancampaign.accounts.models import Role, User
from fancampaign.admin import sitesettings
from fancampaign.extensions import login_manager
from fancampaign.pagecache import Viewer

# The stand-in viewer's name: if it shows anywhere outside a slot, the page says something
# about its viewer that no slot covers, and it is not shared.
STANDIN_NAME = "fc-standin-viewer"
_LOGIN_KEY = "_user_id"  # where Flask-Login keeps the login in the session


def load_viewer(marks: dict[str, Any]) -> Viewer | None:
    """This request's logged-in viewer, read with the answers to `marks` in one query; None
    when the login no longer holds (the request then goes on as a visitor's).

    The viewer's user is their row as plain values (`UserRow`): a page shared by every member
    needs no more. Should the request need `current_user` after all (a page of their own),
    Flask-Login's loader makes it from that row (`load_user`), without a second query.
    """
    session_id = session.get(_LOGIN_KEY)
    found = None
    values: dict[str, Any] = {}
    if session_id and not login_manager._session_protection_failed():
        found, values = services.read_session_user(str(session_id), marks)
    if found is None:
        login_manager._update_request_context_with_user(None)  # a visitor, as Flask-Login would
        return None
    g.fc_login_row = (str(session_id), found)
    sitesettings.note_version(found.loaded_settings_version)
    return Viewer(found, role_of(found), values)


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: the `User` of a login cookie, made from the row `load_viewer`
    read for it in this request if it did, else read now."""
    kept = g.pop("fc_login_row", None)
    if kept is not None and kept[0] == session_id:
        user = services.as_user(kept[1])
    else:
        user = services.load_session_user(session_id)
    if user is not None:
        # The site settings' version comes with the login (admin/sitesettings.py).
        sitesettings.note_version(user.loaded_settings_version)
    return user


def read_marks(user: Any, marks: dict[str, Any]) -> dict[str, Any]:
    """The answers to `marks` for a viewer already loaded, in one query."""
    return services.read_marks(user.id, marks)


def role_of(user: Any) -> str | None:
    """The role whose shared pages describe this viewer, or None when they need their own:
    moderators (tools on every item), anyone who may not take part (their notices), and
    anyone with hidden posts or threads (which only they see)."""
    if not policies.can_participate(user) or policies.can_moderate(user):
        return None
    if getattr(user, "has_hidden_content", None) is not False:  # unknown counts as yes
        return None
    return str(getattr(user.role, "value", user.role))


def standin(role: str) -> User:
    """The viewer a role's shared pages are rendered for: wrote, liked and signed nothing.
    Never added to the session; id 0 is no row's id (ids start at 1)."""
    return User(
        id=0,
        username=STANDIN_NAME,
        username_lower=STANDIN_NAME,
        display_name=STANDIN_NAME,
        email=f"{STANDIN_NAME}@example.invalid",
        role=Role(role),
        email_confirmed_at=datetime(2000, 1, 1, tzinfo=UTC),
        is_banned=False,
        session_token="",
    )
