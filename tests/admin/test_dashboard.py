"""The dashboard: figures per day drawn by the petition chart, open reports, decision time."""

from __future__ import annotations

from datetime import timedelta

from fancampaign.admin import dashboard
from fancampaign.extensions import db, utcnow
from fancampaign.moderation.models import Report
from tests.factories import make_category, make_reply, make_thread, make_user


def test_the_dashboard_counts_today_and_draws_svg(client, login, admin):
    login(admin)
    fan = make_user("gally")
    make_reply(fan, make_thread(fan, make_category()))
    signatures, members, posts = dashboard.series()
    assert members.days[-1][1] == 2 and members.total == 2
    assert posts.days[-1][1] == 2 and signatures.total == 0
    assert len(posts.days) == dashboard.DAYS
    page = client.get("/admin/").get_data(as_text=True)
    assert page.count('<svg class="chart"') == 3
    assert "New members per day: 2 in the last 30 days" in page


def test_the_median_time_to_a_decision(admin):
    fan = make_user("gally")
    now = utcnow()
    for hours in (1, 2, 9):
        report = Report(
            reporter_id=fan.id,
            item_kind="post",
            item_id=hours,
            reason="spam",
            created_at=now - timedelta(hours=hours),
        )
        db.session.add(report)
        db.session.flush()
        report.close("resolved", admin)
        report.closed_at = now
    db.session.add(Report(reporter_id=admin.id, item_kind="user", item_id=fan.id, reason="spam"))
    db.session.commit()
    assert dashboard.median_decision_time() == timedelta(hours=2)
    assert dashboard.open_reports() == 1
    assert dashboard.duration(timedelta(hours=2, minutes=5)) == "2 h 5 min"
