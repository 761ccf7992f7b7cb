"""News test helpers: the "News discussion" category, writers and readers, images."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from fancampaign.accounts.models import Role
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
