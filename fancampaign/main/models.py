"""Site-wide tables."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fancampaign.extensions import db, utcnow


class SeedMark(db.Model):
    """Which parts of the demo content have been loaded."""

    __tablename__ = "seed_marks"

    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
