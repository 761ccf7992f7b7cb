"""Which tables a transaction wrote, told to whoever listens once it commits.

A listener on every session notes the tables that ORM flushes and ORM/Core INSERT, UPDATE and
DELETE statements run through the session wrote; after the commit, `committed` is sent with
them (the page cache listens: see fancampaign/pagecache). A rolled-back transaction sends
nothing. A statement the listeners cannot see into (DML inside a CTE) says so itself with
`note`. Some tables matter only when certain columns change (`only_columns`: a user's login
time is not something any page shows).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from blinker import Signal
from sqlalchemy import event
from sqlalchemy.orm import Session

_WRITTEN = "fancampaign_written"

committed = Signal("the tables a committed transaction wrote (keyword: tables)")

# {table: the columns whose change counts as writing it}; other tables count on any change.
_ONLY: dict[str, tuple[str, ...]] = {}


def only_columns(table: str, columns: tuple[str, ...]) -> None:
    """An update of `table` counts only when one of `columns` changes (ORM objects; an UPDATE
    statement counts whatever it sets), and a new row of it not at all: nothing shows it until
    it changes (an INSERT statement or a new ORM object alike)."""
    _ONLY[table] = columns


def note(session: Session, table: str | None) -> None:
    """The transaction writes `table`: listeners hear of it at the commit."""
    if table:
        session.info.setdefault(_WRITTEN, set()).add(table)


def _table_of(obj: Any) -> str | None:
    table = getattr(type(obj), "__table__", None)
    return table.name if table is not None else None


def _shown_changed(obj: Any, columns: tuple[str, ...]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in columns if name in state.attrs)


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    for obj in session.new:
        name = _table_of(obj)
        if name not in _ONLY:  # a new row of such a table is not shown until it changes
            note(session, name)
    for obj in session.deleted:
        note(session, _table_of(obj))
    for obj in session.dirty:
        name = _table_of(obj)
        if name in _ONLY and not _shown_changed(obj, _ONLY[name]):
            continue
        note(session, name)


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: Any) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        name = getattr(getattr(state.statement, "table", None), "name", None)
        if state.is_insert and name in _ONLY:
            return  # a new row of such a table is not shown until it changes
        note(state.session, name)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    tables = session.info.pop(_WRITTEN, None)
    if tables:
        committed.send(session, tables=frozenset(tables))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
