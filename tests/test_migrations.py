"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

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
