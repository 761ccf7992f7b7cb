"""Petition test helpers."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.extensions import db
from fancampaign.petitions.models import Petition, Signature


@pytest.fixture
def count_rows() -> Any:
    """count_rows(petition) -> (stored counter, confirmed rows), read fresh from the database."""

    def _count(petition: Petition) -> tuple[int, int]:
        db.session.rollback()  # a fresh transaction: see what other connections committed
        stored = db.session.scalar(
            sa.select(Petition.signature_count).where(Petition.id == petition.id)
        )
        rows = db.session.scalar(
            sa.select(sa.func.count()).where(
                Signature.petition_id == petition.id, Signature.confirmed_at.is_not(None)
            )
        )
        return stored, rows

    return _count
