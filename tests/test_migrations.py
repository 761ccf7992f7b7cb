"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from fancampaign import create_app
from fancampaign.extensions import db
from tests.conftest import TEST_DATABASE_URL, make_config


def _fresh_database_url(tmp_path: Path) -> str:
    if not TEST_DATABASE_URL:
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url = sa.make_url(TEST_DATABASE_URL)
    name = f"{url.database}_migrations"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # Full-text search tables are created by the migration's own DDL, not by the models.
    from fancampaign.search.backend import is_search_object

    return not is_search_object(name or "", type_)


def test_migrations_match_the_models(tmp_path: Path) -> None:
    app = create_app(make_config(tmp_path, SQLALCHEMY_DATABASE_URI=_fresh_database_url(tmp_path)))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"compare_type": True, "include_object": _include},
            )
            diff = compare_metadata(context, db.metadata)
        assert diff == []
        downgrade(revision="base")
        remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert {t for t in remaining if _include(None, t, "table", True, None)} == set()
        db.engine.dispose()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only")
def test_postgres_is_really_used(app) -> None:
    assert db.engine.dialect.name == "postgresql"


def _rows_made_at_head_then_back_to(revision: str, make: Any) -> Any:
    """Rows made by today's models (`make()`), in a database then taken back down to an
    older `revision`: a data migration's test starts from rows as they were, whatever
    columns later revisions add to those tables. Returns what `make` returns."""
    upgrade()
    made = make()
    db.session.remove()
    downgrade(revision=revision)
    return made


def test_stored_external_images_become_links(tmp_path: Path) -> None:
    from tests.factories import make_thread

    old_html = (
        '<p>Look <img src="https://tracker.example/p.png?u=1&amp;v=2" alt="a &lt;cat&gt;"'
        ' loading="lazy"> and <img src="/uploads/ab/cd.webp" alt="" loading="lazy">'
        ' <a href="https://x.org" rel="nofollow ugc noopener"><img src="https://t.example/'
        'c.png" alt="cover" loading="lazy"></a></p>\n'
    )
    app = create_app(make_config(tmp_path, SQLALCHEMY_DATABASE_URI=_fresh_database_url(tmp_path)))
    with app.app_context():
        _rows_made_at_head_then_back_to("0574e2160d3a", make_thread)  # before the rewrite
        post_id = db.session.scalar(sa.text("SELECT min(id) FROM posts"))
        db.session.execute(sa.text("UPDATE posts SET body_html = :h"), {"h": old_html})
        db.session.commit()
        upgrade()
        stored = db.session.scalar(
            sa.text("SELECT body_html FROM posts WHERE id = :i"), {"i": post_id}
        )
        assert stored == (
            '<p>Look <a href="https://tracker.example/p.png?u=1&amp;v=2" rel="nofollow ugc'
            ' noopener">Image: a &lt;cat&gt;</a> and <img src="/uploads/ab/cd.webp" alt=""'
            ' loading="lazy"> <a href="https://x.org" rel="nofollow ugc noopener">cover</a></p>\n'
        )
        db.session.remove()
        downgrade(revision="base")
        db.engine.dispose()


def test_quotes_written_before_name_their_source(tmp_path: Path) -> None:
    from fancampaign.forum.services import reply
    from fancampaign.text import quote_markdown
    from tests.factories import make_reply, make_thread, make_user

    app = create_app(make_config(tmp_path, SQLALCHEMY_DATABASE_URI=_fresh_database_url(tmp_path)))
    with app.app_context():

        def old_quotes() -> tuple[int, int, int]:
            alice, bob = make_user("alice"), make_user("bob")
            thread = make_thread(make_user("opener"))
            first = make_reply(alice, thread, "Alita deserves a sequel.\n\nSay it louder.")
            second = make_reply(alice, thread, "Another thought entirely, on the soundtrack.")
            old = quote_markdown("alice", first.body) + quote_markdown("alice", "Made up words")
            old += quote_markdown("alice", second.body) + "Agreed."  # quotes as once written
            quoting = reply(bob, thread, old)
            db.session.commit()
            assert "data-quote" not in quoting.body_html
            return quoting.id, first.id, second.id

        quoting_id, first_id, second_id = _rows_made_at_head_then_back_to(
            "18d8c5a10bdc", old_quotes
        )
        upgrade()
        body, html = db.session.execute(
            sa.text("SELECT body, body_html FROM posts WHERE id = :i"), {"i": quoting_id}
        ).one()
        assert body.startswith(f"> @alice [wrote](/forum/p/{first_id}):\n")
        assert "> @alice wrote:\n>\n> Made up words" in body  # no source: left alone
        assert f"> @alice [wrote](/forum/p/{second_id}):\n" in body
        assert html.count("<blockquote data-quote=") == 2
        assert f'<blockquote data-quote="{first_id}">' in html
        assert f'<blockquote data-quote="{second_id}">' in html
        assert f'<a href="/forum/p/{second_id}" rel="nofollow ugc noopener">wrote</a>' in html
        db.session.remove()
        downgrade(revision="base")
        db.engine.dispose()


def test_what_was_told_before_the_told_marks_is_not_told_again(tmp_path: Path) -> None:
    from fancampaign.campaign.models import CampaignEvent
    from fancampaign.extensions import utcnow
    from fancampaign.notifications.services import save_preferences
    from tests.factories import make_petition, make_reply, make_thread, make_user

    app = create_app(make_config(tmp_path, SQLALCHEMY_DATABASE_URI=_fresh_database_url(tmp_path)))
    with app.app_context():

        def before() -> dict[str, int]:
            petition = make_petition()
            now = utcnow()
            past = CampaignEvent(petition_id=petition.id, kind="news", title="Out", occurred_at=now)
            later = CampaignEvent(
                petition_id=petition.id,
                kind="news",
                title="Scheduled",
                occurred_at=now + timedelta(days=1),
            )
            thread = make_thread()
            shown = make_reply(thread.author, thread, "Shown")
            held = make_reply(thread.author, thread, "Held")
            held.is_hidden, held.hidden_reason = True, "held"
            emailed, in_app = make_user("emailed"), make_user("in_app")
            save_preferences(in_app, {"reply": "app"}, "weekly")
            db.session.add_all([past, later])
            db.session.commit()
            return {
                "past": past.id,
                "later": later.id,
                "shown": shown.id,
                "held": held.id,
                "emailed": emailed.id,
                "in_app": in_app.id,
            }

        ids = _rows_made_at_head_then_back_to("9b4d2e6f1a37", before)
        upgrade()

        def told(table: str, row: str) -> bool:
            query = sa.text(f"SELECT told_at IS NOT NULL FROM {table} WHERE id = :i")
            return bool(db.session.scalar(query, {"i": ids[row]}))

        assert told("campaign_events", "past") and not told("campaign_events", "later")
        assert told("posts", "shown") and not told("posts", "held")
        assert "notify_by_email" not in {
            c["name"] for c in sa.inspect(db.engine).get_columns("users")
        }
        db.session.remove()
        downgrade(revision="9b4d2e6f1a37")
        switch = dict(db.session.execute(sa.text("SELECT id, notify_by_email FROM users")).all())
        assert (bool(switch[ids["emailed"]]), bool(switch[ids["in_app"]])) == (True, False)
        db.session.remove()
        downgrade(revision="base")
        db.engine.dispose()
