"""The viewer of a page: who they are, and what a page asks about them.

A page shared by every member asks a few questions about its viewer ("which of these posts do
they like?", "did they sign this petition?"). Each is a *mark*: a column correlated to the
viewer's users row, read in the login's own query (`load_viewer`) or, for a viewer already
loaded, in one query of its own (`read_marks`). The areas make their marks with `id_mark`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import session
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from fancampaign import policies
from fancampaign.accounts import services
from fancampaign.accounts.models import Role, User
from fancampaign.extensions import login_manager
from fancampaign.pagecache import Viewer

# The stand-in viewer's name: if it shows anywhere outside a slot, the page says something
# about its viewer that no slot covers, and it is not shared.
STANDIN_NAME = "fc-standin-viewer"
_LOGIN_KEY = "_user_id"  # where Flask-Login keeps the login in the session


def load_viewer(marks: dict[str, Any]) -> Viewer | None:
    """This request's logged-in viewer, read with the answers to `marks` in one query and
    installed as the request's user (as Flask-Login would); None when the login no longer
    holds (the request then goes on as a visitor's)."""
    session_id = session.get(_LOGIN_KEY)
    user = None
    values: dict[str, Any] = {}
    if session_id and not login_manager._session_protection_failed():
        user, values = services.load_session_user_marked(str(session_id), marks)
    login_manager._update_request_context_with_user(user)
    if user is None:
        return None
    return Viewer(user, role_of(user), values)


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


# Marks -------------------------------------------------------------------------------------


def id_mark(ids: Any, user_id: Any, param: str) -> Any:
    """A mark column: which of the ids in the parameter `param` (a list) the viewer has rows
    for, as "5,9" (NULL for none); `ids` and `user_id` are columns of one table (likes,
    signatures). Read it with `id_set`.

    The list goes to the database as one JSON parameter, not an IN list of one parameter
    each: the statement's text is the same for any number of ids (one prepared statement on
    PostgreSQL, no re-rendering of the SQL per request).
    """
    elements = _json_array(sa.bindparam(param, type_=_IdList())).table_valued("value")
    return (
        sa.select(_comma_joined(sa.cast(ids, sa.Text)))
        .where(user_id == User.id, ids.in_(sa.select(sa.cast(elements.c.value, sa.Integer))))
        .scalar_subquery()
    )


def id_set(marked: str | None) -> set[int]:
    """The ids in a mark such as "5,9" (see `id_mark`)."""
    return {int(part) for part in marked.split(",")} if marked else set()


def ids_marked(viewer: Any, name: str, mark: Any, param: str, ids: list[int]) -> set[int]:
    """Which of these ids the viewer has rows for, by the mark `name` (an `id_mark` column
    with its list in `param`), read now in one query: for a page rendered for its viewer
    alone. None for visitors."""
    if not ids or not policies.is_member(viewer):
        return set()
    return id_set(services.read_marks(viewer.id, {name: (mark, {param: ids})})[name])


class _IdList(sa.types.TypeDecorator[list[int]]):
    """A list of ids bound as a JSON array."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps([int(item) for item in value])


def _sql_function(name: str, sqlite: str, postgresql: str, type_: Any = None) -> Any:
    """A SQL function spelt per dialect: `sqlite` (the default) and `postgresql` are its SQL
    with `{}` where its arguments go."""
    function = type(name, (FunctionElement,), {"inherit_cache": True, "name": name})
    if type_ is not None:
        function.type = type_
    for dialect, spelling in ((None, sqlite), ("postgresql", postgresql)):

        def render(element: Any, compiler: Any, _spelling: str = spelling, **kw: Any) -> str:
            return _spelling.format(compiler.process(element.clauses, **kw))

        compiles(function, *([dialect] if dialect else []))(render)
    return function


# The elements of a JSON array, as rows of one `value` column.
_json_array = _sql_function(
    "json_array", "json_each({})", "json_array_elements_text(CAST({} AS json))"
)
# The values joined by commas ("5,9"): aggregate_strings with its separator in the SQL text,
# where SQLAlchemy's own renders it again on every execution.
_comma_joined = _sql_function(
    "comma_joined", "group_concat({}, ',')", "string_agg({}, ',')", sa.Text()
)
