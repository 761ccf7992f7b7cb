"""News test helpers: the "News discussion" category, writers and readers, images."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from tests.factories import make_category, make_user


@pytest.fixture(autouse=True)
def news_category(app: Any) -> Any:
    return make_category("news-discussion", name="News discussion")


@pytest.fixture
def organiser(app: Any) -> Any:
    return make_user("ido", role=Role.ORGANISER)


@pytest.fixture
def member(app: Any) -> Any:
    return make_user("hugo")


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (1200, 600), **save: Any) -> bytes:
    img = Image.new("RGB", size, (120, 40, 200))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block."""
    statements: list[str] = []

    def _before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", _before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", _before)
