"""The demo content: watched words and a reported reply waiting in the queue."""

from __future__ import annotations

import sqlalchemy as sa

from fancampaign.extensions import db
from fancampaign.moderation import watch
from fancampaign.moderation.models import Report, WatchedWord
from fancampaign.seeds import load_demo


def test_demo_seeds_fill_the_queue(app, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    load_demo()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WatchedWord)) == 3
    reports = list(db.session.scalars(sa.select(Report)))
    assert len(reports) == 2 and all(r.is_open for r in reports)
    watch.forget()
    assert watch.screen("Cheap replica watches here").action == "block"
    # Loading again adds nothing.
    load_demo()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 2
