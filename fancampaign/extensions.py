"""The extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, has_request_context, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC one is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def utcnow() -> datetime:
    """The current time, UTC-aware: the one clock every default and comparison uses."""
    return datetime.now(UTC)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()


class _Limiter(Limiter):
    """Flask-Limiter, whose check before every request is skipped for a page read (its
    request filter below would exempt it anyway, after a tenth of a millisecond of working
    out scopes and limits: a twentieth of a page served from the cache)."""

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if in_middleware and _unlimited_read():
            return
        super()._check_request_limit(callable_name, in_middleware)


limiter = _Limiter(key_func=get_remote_address, default_limits=[])


# Reads that are limited all the same: lookups a script makes as someone types.
LIMITED_READS = frozenset({"forum.mentions"})


@limiter.request_filter
def _unlimited_read() -> bool:
    """Pages are read without limits (the limits are on writes, on the API's reads and on
    LIMITED_READS)."""
    return (
        request.method in ("GET", "HEAD")
        and request.blueprint != "api"
        and request.endpoint not in LIMITED_READS
    )


_READING = "fancampaign_reading"  # this connection reads outside a transaction for now


def _is_read_request() -> bool:
    return has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")


def _read_only_page() -> str | None:
    """The name of the declared read-only page this GET serves (a view decorated with a
    `pagecache.Page`), or None."""
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return None
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint or "")
    page = getattr(view, "page", None)
    return page.name if page is not None and page.read_only else None


def _refuse_write_on_read_only_page(statement: str) -> None:
    """A declared read-only page writes nothing (its GET may be served from the cache without
    running at all): under test and debug that is an error, in production a loud log line."""
    name = _read_only_page()
    if name is None:
        return
    from flask import current_app

    message = f"the read-only page {name!r} wrote to the database: {statement[:80]!r}"
    if current_app.testing or current_app.debug:
        raise RuntimeError(message)
    current_app.logger.error(message)


_CHANGES = re.compile(r"\b(?:INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


_WRITES: dict[str, bool] = {}
_WRITES_MAX = 4096


def _is_write(statement: str) -> bool:
    """Anything but a read (a SELECT, or a WITH query that changes nothing and locks
    nothing): it must run inside a transaction. Known per statement text (SQLAlchemy hands
    the same compiled string again): a search through a long query is a tenth of a
    millisecond."""
    known = _WRITES.get(statement)
    if known is None:
        first = statement.lstrip()[:6].upper()
        if first != "SELECT" and not first.startswith("WITH "):
            known = True
        else:
            known = _CHANGES.search(statement) is not None  # a data-changing CTE, FOR UPDATE
        if len(_WRITES) >= _WRITES_MAX:
            _WRITES.clear()
        _WRITES[statement] = known
    return known


def configure_sqlite(app: Flask) -> None:
    """WAL, foreign keys and a busy timeout on every SQLite connection.

    Writes (POST and friends) begin IMMEDIATE so that two concurrent writers queue on the
    lock instead of one failing with "database is locked" when it upgrades a read snapshot.
    A GET request reads outside a transaction (each statement its own snapshot, as under
    PostgreSQL's READ COMMITTED), and its first write begins one, IMMEDIATE: what it writes
    commits or rolls back as a whole, as before.
    """
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        reading = conn.info[_READING] = _is_read_request()
        if not reading:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if has_request_context() else "BEGIN")

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _writes_in_a_transaction(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(_READING) and _is_write(statement):
            _refuse_write_on_read_only_page(statement)
            conn.info[_READING] = False
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")


def autocommit_reads(app: Flask) -> None:
    """PostgreSQL: a GET request reads outside a transaction, and its first write (or lock)
    opens one.

    Reads then cost one round trip each, with no BEGIN before them and no ROLLBACK after (under
    READ COMMITTED every statement has its own snapshot anyway, so they see what they saw
    before). It also keeps psycopg's prepared statements, which it forgets at every ROLLBACK:
    without them PostgreSQL plans each query of each request again (0.3 ms for the session
    user's query, against 0.1 ms to run it). Writes stay atomic: the first statement that is
    not a plain SELECT switches the connection back to transactions before it runs, so what
    a GET writes commits with the view's commit or rolls back with the session, as before.
    """
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return

    @sa.event.listens_for(engine, "checkout")
    def _reads_autocommit(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        dbapi_conn.autocommit = record.info[_READING] = _is_read_request()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _writes_in_a_transaction(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Only the autocommit set above: a connection asked for AUTOCOMMIT (VACUUM) keeps it.
        if (
            conn.info.get(_READING)
            and _is_write(statement)
            and "isolation_level" not in conn.get_execution_options()
        ):
            _refuse_write_on_read_only_page(statement)
            conn.info[_READING] = False
            conn.connection.driver_connection.autocommit = False


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our UTC column type into migrations as a plain timezone-aware DateTime."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_in_migrations(
    obj: Any, name: str | None, type_: str, reflected: bool, other: Any
) -> bool:
    """Autogenerate ignores the full-text search objects, which the migration makes by DDL."""
    from fancampaign.search.backend import is_search_object

    return not is_search_object(name or "", type_)
