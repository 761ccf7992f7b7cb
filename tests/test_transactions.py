"""Transactions around a request: page reads run outside one (no BEGIN, no ROLLBACK: on
PostgreSQL one round trip a query, and psycopg keeps its prepared statements), and whatever a
request writes stays atomic: committed by the view's commit, or rolled back as a whole."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import User
from fancampaign.extensions import _is_write, db
from tests.factories import make_user


def bio_of(username: str) -> str:
    db.session.rollback()
    return db.session.scalar(sa.select(User.bio).where(User.username == username))


@pytest.fixture
def routes(app):
    def driver():
        return db.session.connection().connection.driver_connection

    def reads():
        db.session.scalar(sa.select(sa.func.count()).select_from(User))
        if db.engine.dialect.name == "postgresql":
            return {"outside": bool(driver().autocommit)}
        return {"outside": not driver().in_transaction}

    def writes_then_fails():
        db.session.execute(sa.update(User).values(bio="first half"))
        db.session.execute(sa.update(User).values(display_name="second half"))
        raise RuntimeError("the view fails after writing")

    def writes_and_commits():
        db.session.execute(sa.update(User).values(bio="one"))
        db.session.execute(sa.update(User).values(display_name="two"))
        db.session.commit()
        return "done"

    def writes_and_forgets():
        db.session.execute(sa.update(User).values(bio="never committed"))
        return "forgot to commit"

    app.add_url_rule("/probe/reads", "probe_reads", reads)
    app.add_url_rule("/probe/fails", "probe_fails", writes_then_fails)
    app.add_url_rule("/probe/commits", "probe_commits", writes_and_commits)
    app.add_url_rule("/probe/forgets", "probe_forgets", writes_and_forgets)
    app.config["PROPAGATE_EXCEPTIONS"] = False


def test_page_reads_run_outside_a_transaction(app, client, routes):
    make_user("reader")
    db.session.commit()

    assert client.get("/probe/reads").get_json() == {"outside": True}


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT users.id FROM users WHERE users.updated_at > ?", False),
        ("SELECT posts.is_deleted FROM posts", False),
        ("  select 1", False),
        ("WITH t AS (SELECT 1) SELECT * FROM t", False),
        ("SELECT threads.post_count FROM threads WHERE threads.id = ? FOR UPDATE", True),
        ("WITH s AS (INSERT INTO signatures VALUES (1) RETURNING id) SELECT id FROM s", True),
        ("UPDATE users SET bio = ?", True),
        ("INSERT INTO posts DEFAULT VALUES", True),
        ("SAVEPOINT sa_savepoint_1", True),
    ],
)
def test_what_counts_as_a_write(statement, writes):
    assert _is_write(statement) is writes


def test_a_read_request_that_fails_after_writing_rolls_back_every_write(client, routes):
    make_user("atomic")

    assert client.get("/probe/fails").status_code == 500

    db.session.rollback()
    user = db.session.scalar(sa.select(User).where(User.username == "atomic"))
    assert (user.bio, user.display_name) != ("first half", "second half")
    assert user.bio == ""


def test_a_read_request_that_commits_keeps_both_writes(client, routes):
    make_user("together")

    assert client.get("/probe/commits").status_code == 200

    db.session.rollback()
    user = db.session.scalar(sa.select(User).where(User.username == "together"))
    assert (user.bio, user.display_name) == ("one", "two")


def test_a_write_a_read_request_did_not_commit_is_rolled_back(client, routes):
    make_user("untouched")

    assert client.get("/probe/forgets").status_code == 200

    assert bio_of("untouched") == ""
