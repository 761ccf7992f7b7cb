"""The test kit: an app on an empty database (SQLite, or TEST_DATABASE_URL), a client, login."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient

from fancampaign import create_app
from fancampaign.extensions import db, limiter

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _worker_database(url: str, worker: str) -> str:
    """The PostgreSQL database of one pytest-xdist worker (`<name>_<worker>`), made if missing:
    workers of a parallel run (pytest -n) never drop each other's schema."""
    base = sa.make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


if TEST_DATABASE_URL and os.environ.get("PYTEST_XDIST_WORKER"):
    TEST_DATABASE_URL = _worker_database(TEST_DATABASE_URL, os.environ["PYTEST_XDIST_WORKER"])
REDIS_URL = os.environ.get("REDIS_URL")


def make_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        # Fixed, so that tests which switch TESTING off never depend on an instance/ key file
        # an earlier test may have left (a clean clone has none).
        "LOG_SIGNING_KEY": "dGVzdC1sb2ctc2lnbmluZy1rZXktMzItYnl0ZXMhISE=",
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.db'}",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "MAIL_BACKEND": "memory",
        "MAIL_SEND_IMMEDIATELY": True,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "SERVER_NAME": "localhost",
        "BASE_URL": "http://localhost",
        # The test client asks for BASE_URL's host; servers started by tests listen here.
        "ALLOWED_HOSTS": ["127.0.0.1"],
        # The page cache is off under test unless a test turns it on; when it does, its
        # entries and versions are this test's own.
        "PAGE_CACHE_PREFIX": f"test-{tmp_path.name}-{os.getpid()}:",
        "PAGE_CACHE_VERSIONS_FILE": str(tmp_path / "page-versions"),
    }
    if REDIS_URL:
        config["REDIS_URL"] = REDIS_URL
        config["RATELIMIT_KEY_PREFIX"] = f"fctest-{os.getpid()}-{tmp_path.name}"
    config.update(overrides)
    return config


_schema_ready: set[str] = set()


def reset_database(app: Flask) -> None:
    """Start every test from an empty database with the current schema."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            if url not in _schema_ready:
                with engine.begin() as conn:
                    conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
                    conn.execute(sa.text("CREATE SCHEMA public"))
                db.create_all()
                _schema_ready.add(url)
            else:
                tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
                with engine.begin() as conn:
                    conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            db.create_all()
        if hasattr(db, "_search_setup"):
            db._search_setup()


def _forget_cached_user() -> None:
    for key in ("_login_user", "fc_login_row", "allow_framing", "mail_pending"):
        g.pop(key, None)


@pytest.fixture
def app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    overrides = getattr(request, "param", None) or {}
    marker = request.node.get_closest_marker("config")
    if marker:
        overrides = {**overrides, **marker.kwargs}
    app = create_app(make_config(tmp_path, **overrides))
    # The test's app context (pushed below) is shared by every client request, and so is `g`:
    # forget the user Flask-Login cached there, so each request loads its own (as in production,
    # where a ban or a rotated session token ends the session on the next request).
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_cached_user)
    reset_database(app)
    if app.config.get("RATELIMIT_ENABLED"):
        with app.app_context():
            limiter.reset()
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        db.session.remove()
        ctx.pop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def outbox(app: Flask) -> list[Any]:
    """Mail sent during the test (the memory backend)."""
    return app.extensions.setdefault("mail_outbox", [])


@pytest.fixture
def login(client: FlaskClient) -> Any:
    """login(user) logs the test client in as that user (no form round trip)."""

    def _login(user: Any) -> Any:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return user

    return _login


def links_in(message: Any) -> list[str]:
    """The http(s) links in an email."""
    body = message.get_content() if hasattr(message, "get_content") else str(message)
    return re.findall(r"https?://\S+", body)


# The view tests of every cached page run twice: with the page cache off and on (on this
# machine alone without REDIS_URL, in Redis with it: SQLite and PostgreSQL runs cover both).
CACHED_PAGE_TESTS = {
    "tests/petitions/test_views.py",
    "tests/forum/test_views.py",
    "tests/news/test_views.py",
    "tests/search/test_search.py",
    "tests/api/test_api.py",
    "tests/share/test_share.py",
    "tests/petitions/test_recruiting_views.py",
}
_ROOT = Path(__file__).resolve().parent.parent


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    path = Path(metafunc.definition.path).resolve().relative_to(_ROOT).as_posix()
    if path not in CACHED_PAGE_TESTS or "app" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("config")
    if marker and "PAGE_CACHE_ENABLED" in marker.kwargs:
        return  # the test says how it wants the cache
    if any(
        "app" in getattr(m, "args", [""])[0]
        for m in metafunc.definition.iter_markers("parametrize")
    ):
        return
    metafunc.parametrize(
        "app", [{}, {"PAGE_CACHE_ENABLED": True}], indirect=True, ids=["cache-off", "cache-on"]
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "config(**kw): app config overrides for this test")


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Any:
    """later(seconds): the page cache's clock moves on by that much (lagging parts catch up)."""
    from fancampaign.pagecache import clock

    moved = [0.0]
    real = clock.now

    def move(seconds: float) -> None:
        moved[0] += seconds
        monkeypatch.setattr(clock, "now", lambda: real() + moved[0])

    return move


@pytest.fixture(params=["redis", "local+redis", "local"])
def page_cache_setup(request: pytest.FixtureRequest, app: Flask) -> str:
    """The page cache on each of its set-ups, whichever database runs the test: versions and
    pages in Redis (several hosts), versions on this machine with Redis, and no Redis at all
    (the quick start). Use with `pytest.mark.usefixtures("page_cache_setup")`."""
    from tests.helpers import REDIS_URL as redis_url
    from tests.helpers import redis_is_up

    if request.param != "local" and not redis_is_up():
        pytest.skip("needs Redis (REDIS_URL)")
    app.config["PAGE_CACHE_ENABLED"] = True
    app.config["PAGE_CACHE_VERSIONS"] = "redis" if request.param == "redis" else "local"
    if request.param == "local":
        app.config.pop("REDIS_URL", None)
    else:
        app.config["REDIS_URL"] = redis_url
    return str(request.param)


@pytest.fixture
def as_member(app: Flask) -> Any:
    """as_member(user): a new test client logged in as that user (its own cookie jar);
    as_member(None): a new visitor's."""

    def _client(user: Any) -> Any:
        client = app.test_client()
        if user is None:
            return client
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return client

    return _client
