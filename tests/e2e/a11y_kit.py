"""Shared kit for the accessibility browser suites (test_a11y, test_keyboard, test_nojs,
test_layout): one live server per module on a data set built once through the services.

``running_site(tmp_dir)`` is a context manager: it prepares the test database (SQLite under
``tmp_dir`` or TEST_DATABASE_URL), builds the demo-like data set below, starts the app in a
subprocess (the same way as the ``live_server`` fixture of tests/e2e/conftest.py) and yields a
``Site`` with the URLs of every page type and the accounts to log in with (password
``tests.factories.PASSWORD``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import make_config, reset_database
from tests.e2e.conftest import LiveServer, _free_port, serve
from tests.factories import PASSWORD

TIMEOUT_MS = 10_000
FLOWS = tuple(f"petition-flow-{n}" for n in (1, 2, 3, 4))  # open petitions nobody signed


@dataclass
class Site:
    server: LiveServer
    url: str
    pages: dict[str, str] = field(default_factory=dict)  # page type -> path
    ids: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # page type -> why it is missing
    sessions: dict[str, Any] = field(default_factory=dict)  # username -> storage state

    def __call__(self, path: str) -> str:
        return self.url + path


def _try(site: Site, names: tuple[str, ...], why: str) -> Any:
    """Decorator-free guard: record page types as skipped when an area is not ready."""

    class _Guard:
        def __enter__(self) -> None:
            return None

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
            if exc_type is None:
                return False
            if issubclass(exc_type, ImportError):
                for name in names:
                    site.skipped[name] = f"{why}: {exc_type.__name__}: {exc}"
                return True
            return False

    return _Guard()


@contextmanager
def _hash_once() -> Iterator[None]:
    """Every account shares the one test password: hash it once (scrypt is slow on purpose)."""
    from fancampaign.accounts import services

    real = services.hash_password
    cache: dict[str, str] = {}

    def cached(password: str) -> str:
        if password not in cache:
            cache[password] = real(password)
        return cache[password]

    services.hash_password = cached  # type: ignore[assignment]
    try:
        yield
    finally:
        services.hash_password = real  # type: ignore[assignment]


def build_data(site: Site, secret_key: str) -> None:
    """Every page type's content, made through the areas' services."""
    with _hash_once():
        _build_data(site, secret_key)


def _build_data(site: Site, secret_key: str) -> None:
    from fancampaign.accounts.models import Role
    from fancampaign.extensions import db
    from tests.factories import make_category, make_user

    users = {
        "ido": make_user("ido", role=Role.ORGANISER, display_name="Ido Daisuke"),
        "gelda": make_user("gelda", role=Role.MODERATOR),
        "hugo": make_user("hugo"),
        "koyomi": make_user("koyomi"),
        "zapan": make_user("zapan"),
        "chiren": make_user("chiren"),
    }
    site.ids["users"] = list(users)
    site.pages.update(
        {
            "home": "/",
            "register": "/register",
            "login": "/login",
            "settings": "/settings",
            "notifications": "/notifications",
            "notification-settings": "/settings/notifications",
            "error-404": "/no-such-page-here",
            "search": "/search?q=alita",
            "news-list": "/news",
            "petition-list": "/petitions",
            "forum-index": "/forum",
        }
    )

    with _try(site, ("forum-category", "thread", "new-thread"), "forum area not ready"):
        from fancampaign.forum import services as forum

        general = make_category("general", name="General chat", description="Anything Alita.")
        make_category("news-discussion", name="News discussion", description="News comments.")
        make_category("petition-discussion", name="Petition discussion", description="Petitions.")
        thread = forum.create_thread(
            users["hugo"],
            general,
            "Who should direct Alita: Battle Angel 2?",
            "I think **Robert Rodriguez** should come back. What do you think, @koyomi?",
        )
        reply = forum.reply(users["koyomi"], thread, "Agreed! The motorball scenes were the best.")
        forum.reply(users["zapan"], thread, "A spammy post about cheap motorball tickets.")
        db.session.commit()
        site.ids.update(thread=thread.id, reply=reply.id, category="general")
        site.pages.update(
            {
                "forum-category": "/forum/general",
                "thread": f"/forum/t/{thread.id}",
                "new-thread": "/forum/general/new",
            }
        )
        # A thread for the keyboard and no-JS flows (a reply, then report, then hide).
        flow = forum.create_thread(
            users["koyomi"], general, "Motorball fan art thread", "Post your motorball art here."
        )
        forum.reply(users["chiren"], flow, "Here is my sketch of Alita in her Berserker body.")
        db.session.commit()
        site.ids["flow_thread"] = flow.id
        site.pages["flow-thread"] = f"/forum/t/{flow.id}"

    with _try(
        site,
        ("petition-open", "petition-closed", "petition-won", "sign-confirm", "embed", *FLOWS),
        "petitions area not ready",
    ):
        import sqlalchemy as sa

        from fancampaign.petitions import services as petitions
        from fancampaign.petitions.models import Signature
        from tests.factories import make_petition

        ido = users["ido"]
        main = make_petition(
            ido,
            title="Make Alita: Battle Angel 2 happen",
            summary="Ask the studio to greenlight the sequel.",
            body="The fans have waited **long enough**.\n\n- Box office\n- Fan art\n- Motorball",
            goal=10,
        )
        for name, country in (("hugo", "GB"), ("koyomi", "JP"), ("zapan", "US")):
            petitions.sign_petition(
                users[name],
                main,
                reason=f"{name.title()} wants to see Alita again.",
                country=country,
                is_public=True,
            )
        petitions.sign_as_guest(
            main,
            name="Guest Fan",
            email="guest.fan@example.com",
            country="FR",
            consent=True,
            secret_key=secret_key,
            base_url="http://localhost",
        )
        db.session.commit()
        guest = db.session.scalar(sa.select(Signature).where(Signature.name == "Guest Fan"))
        token = petitions.make_signature_token(guest, secret_key)
        closed = make_petition(ido, title="Release the director's cut", goal=500)
        petitions.sign_petition(users["hugo"], closed)
        petitions.close_petition(ido, closed)
        won = make_petition(ido, title="Put Alita on the streaming service", goal=5)
        petitions.sign_petition(users["koyomi"], won)
        petitions.mark_won(ido, won, "It is streaming now. Thank you, everyone!")
        # Petitions the keyboard and no-JS flows sign (nobody has signed them).
        for n in (1, 2, 3, 4):
            flow = make_petition(ido, title=f"Flow petition {n} for the art book", goal=50)
            site.pages[f"petition-flow-{n}"] = f"/petitions/{flow.slug}"
        db.session.commit()
        site.ids.update(petition=main.slug, petition_id=main.id)
        site.pages.update(
            {
                "petition-open": f"/petitions/{main.slug}",
                "petition-closed": f"/petitions/{closed.slug}",
                "petition-won": f"/petitions/{won.slug}",
                "sign-confirm": f"/signatures/confirm/{token}",
                "check-inbox": f"/petitions/{main.slug}/signed",
                "embed": f"/petitions/{main.slug}/embed",
                "petition-sources": f"/petitions/{main.slug}/sources",
            }
        )

    with _try(site, ("article",), "news area not ready"):
        from fancampaign.forum import services as forum
        from fancampaign.forum.models import Thread
        from tests.factories import make_news_post

        post = make_news_post(
            users["ido"],
            title="Alita: Battle Angel 2 is in development",
            standfirst="The studio confirmed talks with the original team.",
            body="## What we know\n\nThe **sequel** is being written.\n\n## What you can do\n\n"
            "Sign the petition and share it.",
            tags="alita, sequel",
            petition_ids=[site.ids["petition_id"]] if "petition_id" in site.ids else [],
        )
        db.session.commit()
        if post.thread_id:
            thread = db.session.get(Thread, post.thread_id)
            forum.reply(users["hugo"], thread, "Best news of the year!")
            forum.reply(users["chiren"], thread, "Finally. **Motorball** forever.")
            db.session.commit()
        site.pages["article"] = f"/news/{post.slug}"

    with _try(site, ("moderation-queue", "audit-log"), "moderation area not ready"):
        import sqlalchemy as sa

        from fancampaign.forum.models import Post
        from fancampaign.moderation import services as moderation

        spam = db.session.scalar(
            sa.select(Post).where(Post.body.contains("cheap motorball tickets"))
        )
        if spam is not None:
            moderation.report_item(users["hugo"], "post", spam.id, "spam", "Selling tickets.")
            moderation.report_item(users["koyomi"], "post", spam.id, "spam")
            reply_id = site.ids.get("reply")
            if reply_id:
                moderation.report_item(users["chiren"], "post", reply_id, "off-topic")
                item = moderation.get_item("post", reply_id)
                moderation.dismiss_reports(users["gelda"], item, "It is on topic.")
        db.session.commit()
        site.pages.update({"moderation-queue": "/moderation", "audit-log": "/moderation/log"})

    with _try(site, ("notifications",), "notifications area not ready"):
        from fancampaign.notifications.services import notify

        notify(users["hugo"], "reply", "koyomi replied to your thread", "/forum", actor=None)
        db.session.commit()


@contextmanager
def running_site(tmp_dir: Path) -> Iterator[Site]:
    """The app on a fresh database with the data set, served by a subprocess."""
    from fancampaign import create_app
    from fancampaign.extensions import db

    app = create_app(make_config(tmp_dir))
    reset_database(app)
    ctx = app.app_context()
    ctx.push()
    try:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        site = Site(server=None, url=url)  # type: ignore[arg-type]
        # Not "/": the home page is a declared read-only page, and building the data writes.
        with app.test_request_context("/healthz", base_url=url):
            build_data(site, app.config["SECRET_KEY"])
        db.session.commit()
        with serve(app, tmp_dir, port) as server:
            site.server = server
            yield site
    finally:
        db.session.remove()
        ctx.pop()
        with app.app_context():
            db.engine.dispose()


def fail_on_server_errors(site: Site) -> Iterator[None]:
    """For an autouse fixture: fail the test when the server logged a traceback meanwhile
    (a 500 shows as a missing button in the browser; this says why)."""
    import pytest

    start = len(site.server.mail_log())
    yield
    new = site.server.mail_log()[start:]
    if "Traceback (most recent call last)" in new:
        at = max(0, new.index("Traceback (most recent call last)") - 300)
        pytest.fail("the server raised an error during the test:\n" + new[at : at + 5000])


def new_context(browser: Any, **options: Any) -> Any:
    """A browser context with explicit timeouts (1280x900 unless told otherwise)."""
    options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


def context_as(browser: Any, site: Site, username: str | None, **options: Any) -> Any:
    """A new context, logged in as `username` (through the form once per module; the session
    cookie is reused after that) or a visitor when None."""
    if username and username not in site.sessions:
        context = new_context(browser, **options)
        try:
            log_in(context.new_page(), site, username)
            site.sessions[username] = context.storage_state()
        finally:
            context.close()
    if username:
        options["storage_state"] = site.sessions[username]
    return new_context(browser, **options)


def log_in(page: Any, site: Site, username: str) -> None:
    """Log in through the form (works with JS on or off)."""
    import re

    page.goto(site("/login"))
    page.get_by_label("Username or email address").fill(username)
    page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Log out").count() == 1, (
        f"could not log in as {username}: {page.url}"
    )
