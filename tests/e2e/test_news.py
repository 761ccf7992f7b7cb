"""What a person sees: an organiser writes a post with a cover image and a linked petition,
publishes it, and a fan comments under it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from PIL import Image

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.news.models import NewsPost
from tests.factories import PASSWORD, make_category, make_petition, make_user


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username or email address").fill(username)
    page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def log_out(page: Any) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()


def test_organiser_publishes_with_image_and_petition_then_a_fan_comments(
    app: Any, live_server: Any, page: Any, tmp_path: Path, screenshot: Any
) -> None:
    make_category("news-discussion", name="News discussion")
    organiser = make_user("ido", role=Role.ORGANISER)
    make_user("hugo")
    petition = make_petition(organiser, title="Make Alita: Battle Angel 2 happen")
    db.session.commit()
    cover = tmp_path / "cover.png"
    Image.new("RGB", (1200, 630), (90, 30, 160)).save(cover, format="PNG")

    log_in(page, live_server.url, "ido")
    page.goto(f"{live_server.url}/news/new")
    page.get_by_label(re.compile(r"^Title")).fill("Hope returns for Alita fans")
    page.get_by_label(re.compile(r"^Standfirst")).fill("The campaign has momentum.")
    page.get_by_label(re.compile(r"^Body")).fill(
        "## Where the sequel stands\n\n> As one critic put it, a cliffhanger.\n\nSign below."
    )
    page.get_by_label(re.compile(r"^Cover image")).set_input_files(str(cover))
    page.get_by_label(re.compile(r"^Describe the cover image")).fill("Alita raising her sword")
    page.get_by_label(re.compile(r"^Tags")).fill("alita, sequel")
    page.get_by_label(re.compile(r"^Linked petitions")).select_option(str(petition.id))
    page.get_by_label("Publish now").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()

    assert page.url.endswith("/news/hope-returns-for-alita-fans")
    assert "Published." in page.content()
    assert page.get_by_role("heading", name="Where the sequel stands").count() == 1
    image = page.get_by_role("img", name="Alita raising her sword")
    assert image.count() == 1
    assert "960w" in (image.get_attribute("srcset") or "")
    assert page.evaluate("document.querySelector('.article__image img').naturalWidth") > 0
    assert page.get_by_role("link", name="Make Alita: Battle Angel 2 happen").count() >= 1
    db.session.rollback()
    post = db.session.scalar(sa.select(NewsPost))
    assert post.is_published and post.thread_id is not None
    log_out(page)

    log_in(page, live_server.url, "hugo")
    page.goto(f"{live_server.url}/news/hope-returns-for-alita-fans")
    page.get_by_label("Leave a comment").fill("Signed and shared. **Motorball** forever!")
    page.get_by_role("button", name="Post comment").click()
    page.wait_for_load_state()
    assert "/news/hope-returns-for-alita-fans" in page.url
    comment = page.locator(".post-list .post").filter(has_text="Motorball forever")
    assert comment.count() == 1
    assert comment.locator("strong", has_text="Motorball").count() == 1
    assert "Hugo" in comment.inner_text() or "hugo" in comment.inner_text()
    screenshot("news-article-with-comment")


def test_demo_front_page_leads_with_the_seed_article(
    app: Any, live_server: Any, page: Any, tmp_path: Path, monkeypatch: Any, screenshot: Any
) -> None:
    from fancampaign.seeds import load_demo

    monkeypatch.setattr("fancampaign.seeds._passwords_file", lambda: tmp_path / "demo.txt")
    load_demo()
    page.goto(f"{live_server.url}/")
    lead = page.locator(".lead-story")
    assert lead.get_by_role("link", name="Hope returns for Alita fans").count() == 1
    lead.get_by_role("link", name="Hope returns for Alita fans").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Hope returns for Alita fans"
    assert page.get_by_role("heading", name="What to expect next").count() == 1
    assert page.locator(".prose blockquote").count() == 1
    assert page.locator(".post-list .post").count() == 4
    page.goto(f"{live_server.url}/")
    screenshot("home")
