"""Many people signing and withdrawing at once: the log keeps up with the rows exactly."""

from __future__ import annotations

import threading
import urllib.request

import pytest
import sqlalchemy as sa

from fancampaign.extensions import db
from fancampaign.ledger import services as ledger
from fancampaign.ledger.models import LogEntry
from tests.factories import make_petition, make_user
from tests.petitions.conftest import count_rows
from tests.petitions.test_concurrency import POOL, live, post, session_cookie

__all__ = ["count_rows", "live"]  # the fixtures, reused
SIGNERS = 40


def kinds(petition) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(LogEntry.kind, sa.func.count())
        .where(LogEntry.petition_id == petition.id)
        .group_by(LogEntry.kind)
    )
    return {"add": 0, "withdraw": 0, **dict(rows.all())}


@pytest.mark.config(SERVER_NAME=None, SQLALCHEMY_ENGINE_OPTIONS=POOL)
def test_concurrent_signing_keeps_the_log_equal_to_the_rows_and_the_counter(app, live, count_rows):
    petition = make_petition(goal=1000)
    users = [make_user(commit=False) for _ in range(SIGNERS)]
    db.session.commit()
    cookies = [session_cookie(app, user) for user in users]
    sign = f"/petitions/{petition.slug}/sign"
    withdraw = f"/petitions/{petition.slug}/withdraw"
    checkpoints = f"/api/v1/petitions/{petition.slug}/checkpoints"
    jobs = (
        [(sign, c) for c in cookies for _twice in range(2)]
        + [(withdraw, c) for c in cookies[::3]]
        + [(checkpoints, "")] * 5  # checkpoints taken while people sign
    )
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []

    def run(path: str, cookie: str) -> None:
        barrier.wait()
        if path == checkpoints:
            with urllib.request.urlopen(f"http://127.0.0.1:{live}{path}") as response:
                statuses.append(response.status)
            return
        statuses.append(post(live, path, cookie))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert set(statuses) <= {200, 303} and len(statuses) == len(jobs)
    stored, rows = count_rows(petition)
    counted = kinds(petition)
    assert counted["add"] - counted["withdraw"] == rows == stored
    assert SIGNERS - len(cookies[::3]) <= rows <= SIGNERS
    checkpoint = ledger.make_checkpoint(petition, "closed")
    db.session.commit()
    assert checkpoint.standing_count == stored
    assert checkpoint.tree_size == counted["add"] + counted["withdraw"]
