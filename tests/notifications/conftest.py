"""Notifications, watching and reading: a small forum with three members."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.extensions import db, utcnow
from fancampaign.mail.models import OutboxMessage
from fancampaign.notifications.models import Notification
from tests.factories import make_category, make_thread, make_user


@pytest.fixture
def forum(app: Any) -> SimpleNamespace:
    """alita starts "Sequel now" in General; koyomi and hugo are members too."""
    alita, koyomi, hugo = make_user("alita"), make_user("koyomi"), make_user("hugo")
    general = make_category("general")
    thread = make_thread(alita, general, title="Sequel now", body="Who is in?")
    return SimpleNamespace(alita=alita, koyomi=koyomi, hugo=hugo, general=general, thread=thread)


def notes(user: Any) -> list[Notification]:
    """The member's notifications, oldest first (fresh from the database)."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


def outbox(to: str | None = None) -> list[OutboxMessage]:
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if to is not None:
        query = query.where(OutboxMessage.to == to)
    return list(db.session.scalars(query))


@pytest.fixture
def later() -> Callable[..., datetime]:
    """later(minutes=11): a time after now."""

    def _later(**delta: float) -> datetime:
        return utcnow() + timedelta(**delta)

    return _later
