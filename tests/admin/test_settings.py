"""Site settings: kept in the database, checked, shown on every page, logged."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from fancampaign.admin import services, sitesettings
from fancampaign.admin.models import SiteSettings
from fancampaign.errors import InvalidInput, NotAllowed
from fancampaign.extensions import db
from fancampaign.moderation.models import ModerationAction
from tests.factories import make_user

GOOD = {"site_name": "Alita Army", "accent_colour": "#1d70b8"}


def save(client, **values):
    data = {
        "site_name": "fancampaign",
        "registration_open": "y",
        "held_first_posts": "0",
        "links_after_posts": "0",
        **values,
    }
    return client.post("/admin/settings", data=data, content_type="multipart/form-data")


def png(size=(64, 32), colour=(200, 30, 30)) -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    buf.seek(0)
    return buf


def test_a_new_site_runs_on_its_configuration(app):
    settings = sitesettings.current()
    assert settings.version == 0 and settings.name == app.config["SITE_NAME"]
    assert sitesettings.value("RATELIMIT_POSTS") == app.config["RATELIMIT_POSTS"]


def test_the_settings_page_is_for_admins_only(client, login, moderator):
    login(moderator)
    assert client.get("/admin/settings").status_code == 403
    assert save(client, site_name="Mine").status_code == 403


def test_a_saved_name_shows_on_the_next_page_and_is_logged(client, login, admin):
    login(admin)
    assert client.get("/admin/settings").status_code == 200
    response = save(client, site_name="Alita Army", tagline="Fans for the sequel")
    assert response.status_code == 302
    for path in ("/", "/forum", "/petitions", "/news"):
        page = client.get(path).get_data(as_text=True)
        assert "Alita Army" in page and "Fans for the sequel" in page, path
    (row,) = db.session.scalars(
        sa.select(ModerationAction).where(ModerationAction.action == "change_settings")
    )
    assert row.moderator_id == admin.id and "site_name" in row.details


@pytest.mark.parametrize(
    ("colour", "words"),
    [
        ("#ffdd00", "light theme"),  # yellow: fine on dark, 1.4:1 on white
        ("#0b0c0c", "dark theme"),  # near-black: invisible on the dark background
        ("#777777", "button text"),  # mid grey: neither white nor black text reaches 4.5:1
    ],
)
def test_a_colour_failing_wcag_aa_is_refused_with_its_ratio(client, login, admin, colour, words):
    login(admin)
    response = save(client, accent_colour=colour)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "fails WCAG AA" in page and words in page
    assert ":1" in page
    assert db.session.get(SiteSettings, 1) is None or sitesettings.current().accent_colour is None


def test_the_contrast_message_names_the_ratio():
    problem = sitesettings.contrast_problem("#ffdd00")
    ratio = sitesettings.contrast("#ffdd00", "#ffffff")
    assert f"{ratio:.2f}:1" in problem
    assert round(sitesettings.contrast("#000000", "#ffffff"), 1) == 21.0


def test_a_passing_colour_is_applied_to_both_themes(client, login, admin):
    login(admin)
    assert save(client, accent_colour="#1D70B8").status_code == 302
    settings = sitesettings.current()
    assert settings.accent_colour == "#1d70b8"
    page = client.get("/forum").get_data(as_text=True)
    assert f"/theme.css?v={settings.version}" in page
    css = client.get(f"/theme.css?v={settings.version}").get_data(as_text=True)
    assert css.count("--c-primary: #1d70b8") == 2 and "prefers-color-scheme: dark" in css


def test_bad_values_come_back_on_the_form(client, login, admin):
    login(admin)
    for values in (
        {"site_name": ""},
        {"accent_colour": "blue"},
        {"ratelimit_posts": "lots"},
        {"auto_hide_reports": "0"},
        {"abuse_email": "not an address"},
        {"held_first_posts": "-1"},
    ):
        assert save(client, **values).status_code == 400, values
    assert sitesettings.current().version == 0


def test_rate_limits_and_the_threshold_come_from_the_settings(admin):
    services.update_settings(admin, {"ratelimit_posts": "2 per hour", "auto_hide_reports": 7})
    db.session.commit()
    assert sitesettings.value("RATELIMIT_POSTS") == "2 per hour"
    assert sitesettings.value("AUTO_HIDE_REPORTS") == 7


def test_closed_registration_refuses_sign_ups(client, admin):
    services.update_settings(admin, {"registration_open": False})
    db.session.commit()
    assert "Register" not in client.get("/login").get_data(as_text=True)
    response = client.get("/register")
    assert response.status_code == 403 and "closed" in response.get_data(as_text=True)


def test_a_logo_is_uploaded_as_cover_images_are(client, login, admin):
    login(admin)
    response = save(client, logo=(png(), "logo.png"))
    assert response.status_code == 302
    key = sitesettings.current().logo_key
    assert key and key.endswith(".webp")
    assert f"/uploads/{key}" in client.get("/").get_data(as_text=True)
    served = client.get(f"/uploads/{key}")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    served.close()
    bad = save(client, logo=(io.BytesIO(b"<svg/>"), "logo.svg"))
    assert bad.status_code == 400 and "The logo" in bad.get_data(as_text=True)
    assert save(client, remove_logo="y").status_code == 302
    assert sitesettings.current().logo_key is None


def test_members_cannot_change_settings_through_the_service(app):
    member = make_user("gally")
    with pytest.raises(NotAllowed):
        services.update_settings(member, {"site_name": "Mine"})


def test_the_footer_and_abuse_address_show_on_pages(client, admin):
    services.update_settings(
        admin, {"footer_text": "Run by fans.", "abuse_email": "Abuse@Example.com"}
    )
    db.session.commit()
    page = client.get("/news").get_data(as_text=True)
    assert "Run by fans." in page and "mailto:abuse@example.com" in page


def test_a_change_moves_the_version_and_the_page_cache_table(admin):
    from fancampaign.caching import EVERY_PAGE, GROUPS

    assert any("site_settings" in GROUPS[group] for group in EVERY_PAGE)
    services.update_settings(admin, {"site_name": "One"})
    services.update_settings(admin, {"site_name": "Two"})
    db.session.commit()
    assert db.session.scalar(sa.select(SiteSettings.version)) == 2
    with pytest.raises(InvalidInput):
        services.update_settings(admin, {"nonsense": 1})
