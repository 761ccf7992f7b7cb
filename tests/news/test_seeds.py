"""The demo's news: the lead story carried over faithfully, older updates, comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.extensions import db
from fancampaign.forum.models import Post
from fancampaign.mail.models import OutboxMessage
from fancampaign.news import seeds
from fancampaign.news.models import NewsPost
from fancampaign.seeds import _load_accounts, load_demo
from tests.factories import make_petition


@pytest.fixture(autouse=True)
def _passwords_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo writes its generated passwords under instance/: keep tests out of it.
    monkeypatch.setattr("fancampaign.seeds._passwords_file", lambda: tmp_path / "demo.txt")


SECTIONS = [
    "Where the sequel stands",
    "Why this sequel matters",
    "Comparisons and context",
    "Behind the scenes and fan reaction",
    "What to expect next",
]


def test_demo_front_page_leads_with_the_seed_article(app: Any, client: Any) -> None:
    load_demo()
    lead = db.session.scalar(
        sa.select(NewsPost).where(NewsPost.slug == "hope-returns-for-alita-fans")
    )
    assert lead is not None and lead.is_published and lead.is_developing
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in lead.body_html
    assert "<blockquote>" in lead.body_html and "one critic put it" in lead.body_html
    assert {"alita", "sequel", "campaign"} <= set(lead.tag_names)
    assert 600 <= len(lead.body.split()) <= 1000
    assert len(lead.updates) == 1
    # The petitions' seeds load first: the article links the campaign petition.
    assert [p.slug for p in lead.petitions] == ["make-alita-battle-angel-2-happen"]
    comments = db.session.scalar(
        sa.select(sa.func.count()).where(Post.thread_id == lead.thread_id, Post.is_first.is_(False))
    )
    assert comments == 4
    older = db.session.scalar(sa.select(sa.func.count()).select_from(NewsPost))
    assert older == 4

    home = client.get("/").get_data(as_text=True)
    assert "Hope returns for Alita fans" in home
    assert home.index("Hope returns for Alita fans") < home.index("The petition is open")
    article = client.get("/news/hope-returns-for-alita-fans").get_data(as_text=True)
    assert "Developing story" in article and "Update, " in article
    assert "Motorball forever" in article
    assert 'href="/petitions/make-alita-battle-angel-2-happen"' in article
    petition_page = client.get("/petitions/make-alita-battle-angel-2-happen").get_data(as_text=True)
    assert "Hope returns for Alita fans" in petition_page

    # Loading again adds nothing.
    load_demo()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NewsPost)) == 4


def test_seed_posts_link_the_campaign_petition_without_emailing(app: Any) -> None:
    users = _load_accounts()
    petition = make_petition(users["ido"], title="Make Alita: Battle Angel 2 happen")
    seeds.load(users)
    db.session.commit()
    lead = db.session.scalar(
        sa.select(NewsPost).where(NewsPost.slug == "hope-returns-for-alita-fans")
    )
    assert [p.id for p in lead.petitions] == [petition.id]
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.dedupe_key.like("news:%")))
        == 0
    )
