"""Members reporting one item at the same moment: the auto-hide threshold still holds."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import User
from fancampaign.errors import NotFoundError
from fancampaign.extensions import db
from fancampaign.forum.models import Post
from fancampaign.moderation import services
from fancampaign.moderation.models import ModerationAction, Report
from tests.factories import make_reply, make_thread, make_user

REPORTERS = 5


@pytest.fixture
def reports_inserted_together() -> Iterator[threading.Barrier]:
    """Each report waits (up to a second) after its INSERT for the others to insert theirs,
    before it counts: the interleaving that lost the auto-hide, made certain instead of
    likely. Reports that are made to wait on a lock simply pass once the barrier gives up."""
    barrier = threading.Barrier(REPORTERS)

    def wait(*_args: Any) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)

    sa.event.listen(Report, "after_insert", wait)
    try:
        yield barrier
    finally:
        sa.event.remove(Report, "after_insert", wait)


@pytest.mark.config(AUTO_HIDE_REPORTS=3)
def test_concurrent_reports_auto_hide(app, reports_inserted_together):
    post = make_reply(make_user("spammer"), make_thread(), "Buy cheap watches at example.com")
    reporters = [make_user(commit=False) for _ in range(REPORTERS)]
    db.session.commit()
    post_id, reporter_ids = post.id, [reporter.id for reporter in reporters]
    db.session.rollback()  # the checks below read what the threads committed
    start = threading.Barrier(REPORTERS)
    outcomes: list[str] = []

    def report(reporter_id: int) -> None:
        # Its own app context, so its own session and connection; the POST request context
        # makes SQLite begin IMMEDIATE, as the /report request does.
        with app.test_request_context("/report", method="POST"):
            try:
                start.wait(timeout=10)
                reporter = db.session.get(User, reporter_id)
                services.report_item(reporter, "post", post_id, "spam")
                db.session.commit()
                outcomes.append("reported")
            except NotFoundError:
                outcomes.append("already hidden")
            except BaseException as exc:
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=report, args=(rid,)) for rid in reporter_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    # The third report hid the post; the two after it found it hidden, as one after another.
    assert Counter(outcomes) == {"reported": 3, "already hidden": 2}, outcomes
    hidden = db.session.get(Post, post_id)
    assert hidden.is_hidden and hidden.hidden_reason == "reported"
    hides = db.session.scalars(
        sa.select(ModerationAction).where(ModerationAction.action == "auto_hide")
    ).all()
    assert [(row.target_kind, row.target_id) for row in hides] == [("post", post_id)]
