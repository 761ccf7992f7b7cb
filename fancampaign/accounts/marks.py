"""Marks: a page's questions about its viewer, as columns correlated to their users row.

"Which of these posts do they like?", "did they sign this petition?": each area makes its
marks with `id_mark`; the login's query reads them along with the viewer (accounts/viewer.py).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from fancampaign import policies
from fancampaign.accounts import services
from fancampaign.accounts.models import User


def id_mark(ids: Any, user_id: Any, param: str) -> Any:
    """A mark column: which of the ids in the parameter `param` (a list) the viewer has rows
    for, as "5,9" (NULL for none); `ids` and `user_id` are columns of one table (likes,
    signatures). Read it with `id_set`.

    The list goes to the database as one JSON parameter, not an IN list of one parameter
    each: the statement's text is the same for any number of ids (one prepared statement on
    PostgreSQL, no re-rendering of the SQL per request).
    """
    return (
        sa.select(comma_joined(sa.cast(ids, sa.Text)))
        .where(user_id == User.id, ids.in_(id_list(param)))
        .scalar_subquery()
    )


def id_list(param: str) -> Any:
    """The ids of the list parameter `param`, as a subquery for `column.in_(...)`: bound as
    one JSON parameter, so the statement's text is the same for any number of ids (an
    expanding IN renders the statement again on every execution)."""
    elements = _json_array(sa.bindparam(param, type_=_IdList())).table_valued("value")
    return sa.select(sa.cast(elements.c.value, sa.Integer))


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
        return None if value is None else _encoded(tuple(value))


@lru_cache(maxsize=4096)
def _encoded(ids: tuple[Any, ...]) -> str:
    """A list of ids as JSON, worked out once per list (a shared page asks about the same
    ids on every member's request)."""
    return json.dumps([int(item) for item in ids])


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
# The values joined by commas ("5,9"), an aggregate: aggregate_strings with its separator in
# the SQL text, where SQLAlchemy's own renders it again on every execution.
comma_joined = _sql_function(
    "comma_joined", "group_concat({}, ',')", "string_agg({}, ',')", sa.Text()
)
