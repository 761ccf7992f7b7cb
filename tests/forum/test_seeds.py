"""The demo forum loads through the services with exact counters, a mention and a quote."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.forum import seeds, services
from fancampaign.forum.models import Post, Thread
from fancampaign.notifications.models import Notification
from fancampaign.seeds import read_seed
from tests.factories import make_user
from tests.forum.test_services import assert_counts_exact


def demo_users() -> dict[str, Any]:
    users = {}
    for entry in read_seed("accounts.json"):
        role = Role(entry.get("role", "member"))
        name = entry["username"] if entry["username"] != "admin" else "site_admin"
        users[entry["username"]] = make_user(name, role=role)
    return users


def test_demo_forum_loads(client: Any) -> None:
    seeds.load(demo_users())
    db.session.commit()
    names = [c.name for c in services.categories()]
    assert names == [
        "Announcements",
        "Campaign HQ",
        "News discussion",
        "Petition discussion",
        "Fan theories",
        "Fan art & creations",
        "Off-topic",
    ]
    assert services.get_category("announcements").is_staff_only
    thread = db.session.scalars(
        sa.select(Thread).where(Thread.title == "Where should Alita's story go next?")
    ).one()
    assert thread.reply_count == 4
    kinds = set(db.session.scalars(sa.select(Notification.kind)))
    assert {"reply", "mention", "quote"} <= kinds
    # The demo's quotes name their source post.
    posts = db.session.scalars(sa.select(Post))
    assert any("<blockquote data-quote=" in p.body_html for p in posts)
    assert_counts_exact()
    html = client.get("/forum").get_data(as_text=True)
    assert "Fan art &amp; creations" in html
    assert "Where should Alita" in client.get("/").get_data(as_text=True)
