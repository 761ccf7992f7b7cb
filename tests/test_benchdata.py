"""`fancampaign bench-data` at a tiny scale: it runs, and the counters agree with the rows."""

from __future__ import annotations

import html
import uuid

import pytest
import sqlalchemy as sa

from fancampaign.benchdata import Plan, bench_data_command, counter_mismatches
from fancampaign.extensions import db
from tests.helpers import REDIS_URL, needs_redis

SCALE = 0.001


def _count(sql: str) -> int:
    return int(db.session.execute(sa.text(sql)).scalar() or 0)


def test_bench_data_makes_the_planned_rows_with_exact_counters(runner):
    plan = Plan.at(SCALE)

    result = runner.invoke(bench_data_command, ["--scale", str(SCALE)])

    assert result.exit_code == 0, result.output
    assert "password" in result.output
    assert _count("SELECT count(*) FROM users") == plan.users
    assert _count("SELECT count(*) FROM petitions") == plan.petitions
    assert _count("SELECT count(*) FROM signatures") == plan.signatures
    assert _count("SELECT count(*) FROM threads") >= plan.threads
    assert _count("SELECT count(*) FROM posts") == plan.posts
    with db.engine.connect() as conn:
        assert counter_mismatches(conn) == []
    # The largest petition holds its share, counted from confirmed signatures only.
    largest = _count("SELECT max(signature_count) FROM petitions")
    assert largest == _count(
        "SELECT count(*) FROM signatures WHERE confirmed_at IS NOT NULL AND petition_id = "
        "(SELECT id FROM petitions ORDER BY signature_count DESC LIMIT 1)"
    )
    assert largest > plan.big_petition * 0.9
    assert _count("SELECT sum(signature_count) FROM petitions") == _count(
        "SELECT count(*) FROM signatures WHERE confirmed_at IS NOT NULL"
    )


def test_bench_data_links_discussions_and_refuses_to_run_twice(runner):
    assert runner.invoke(bench_data_command, ["--scale", str(SCALE)]).exit_code == 0

    again = runner.invoke(bench_data_command, ["--scale", str(SCALE)])

    assert again.exit_code != 0
    assert "--reset" in again.output
    # Every public petition has its discussion thread, pointing back at it.
    assert _count(
        "SELECT count(*) FROM petitions p JOIN threads t ON t.id = p.thread_id "
        "WHERE t.subject_kind = 'petition' AND t.subject_id = p.id"
    ) == _count("SELECT count(*) FROM petitions WHERE status IN ('open', 'closed', 'won')")
    # The bench accounts can be logged into like any other (one shared password hash).
    assert _count("SELECT count(DISTINCT password_hash) FROM users") == 1


def test_bench_data_reset_starts_again_with_consistent_counters(runner):
    assert runner.invoke(bench_data_command, ["--scale", str(SCALE)]).exit_code == 0

    result = runner.invoke(bench_data_command, ["--scale", str(SCALE), "--reset", "--seed", "7"])

    assert result.exit_code == 0, result.output
    assert _count("SELECT count(*) FROM users") == Plan.at(SCALE).users
    with db.engine.connect() as conn:
        assert counter_mismatches(conn) == []


@needs_redis
@pytest.mark.config(REDIS_URL=REDIS_URL, PAGE_CACHE_ENABLED=True)
def test_bench_data_makes_every_cached_page_of_the_old_data_unreachable(app, client, runner):
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    assert runner.invoke(bench_data_command, ["--scale", str(SCALE)]).exit_code == 0
    before = client.get("/petitions").get_data(as_text=True)
    assert client.get("/petitions").get_data(as_text=True) == before  # served from the cache

    result = runner.invoke(bench_data_command, ["--scale", str(SCALE), "--reset", "--seed", "7"])

    assert result.exit_code == 0, result.output
    newest = db.session.scalar(sa.text("SELECT title FROM petitions ORDER BY id LIMIT 1"))
    after = client.get("/petitions").get_data(as_text=True)
    assert after != before
    assert html.escape(newest) in after
