"""The schema: one open report per reporter per item; the audit log is append-only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fancampaign.extensions import db
from fancampaign.moderation.models import AuditLogIsAppendOnly, ModerationAction, Report
from tests.factories import make_user


def test_second_open_report_by_same_reporter_is_refused_by_the_schema(app):
    reporter = make_user()
    db.session.add(Report(reporter_id=reporter.id, item_kind="post", item_id=1, reason="spam"))
    db.session.commit()
    db.session.add(Report(reporter_id=reporter.id, item_kind="post", item_id=1, reason="spam"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_closed_reports_do_not_block_a_new_one(app):
    reporter = make_user()
    moderator = make_user()
    first = Report(reporter_id=reporter.id, item_kind="post", item_id=1, reason="spam")
    db.session.add(first)
    db.session.flush()
    first.close("dismissed", moderator)
    second = Report(reporter_id=reporter.id, item_kind="post", item_id=1, reason="abuse")
    db.session.add(second)
    db.session.flush()
    second.close("resolved", moderator)
    db.session.add(Report(reporter_id=reporter.id, item_kind="post", item_id=1, reason="other"))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 3


def test_audit_rows_cannot_be_changed_or_deleted(app):
    row = ModerationAction(action="hide", target_kind="post", target_id=1, reason="spam")
    db.session.add(row)
    db.session.commit()
    row.reason = "something else"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(ModerationAction, row.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(ModerationAction, row.id).reason == "spam"
