"""The site's settings: one row, changed from the admin console, read by every worker.

`version` moves with every change; each worker keeps the row it last read and reads it again
when the version in the database has moved (sitesettings.py). A NULL setting means "what the
configuration says" (config.py), so a fresh site runs on its configuration alone.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fancampaign.extensions import db, utcnow

MAX_SITE_NAME = 60
MAX_TAGLINE = 140
MAX_FOOTER = 1000
MAX_LIMIT = 60


class SiteSettings(db.Model):
    __tablename__ = "site_settings"
    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    site_name: Mapped[str | None] = mapped_column(sa.String(MAX_SITE_NAME))
    tagline: Mapped[str] = mapped_column(sa.String(MAX_TAGLINE), default="")
    # "#rrggbb", checked for contrast in both themes; NULL: the stylesheet's own colours.
    accent_colour: Mapped[str | None] = mapped_column(sa.String(7))
    # Files in the upload folder, processed as cover images are (news/images.py).
    logo_key: Mapped[str | None] = mapped_column(sa.String(64))
    share_image_key: Mapped[str | None] = mapped_column(sa.String(64))
    footer_text: Mapped[str] = mapped_column(sa.String(MAX_FOOTER), default="")
    registration_open: Mapped[bool] = mapped_column(default=True)
    ratelimit_posts: Mapped[str | None] = mapped_column(sa.String(MAX_LIMIT))
    ratelimit_threads: Mapped[str | None] = mapped_column(sa.String(MAX_LIMIT))
    ratelimit_reports: Mapped[str | None] = mapped_column(sa.String(MAX_LIMIT))
    ratelimit_sign: Mapped[str | None] = mapped_column(sa.String(MAX_LIMIT))
    ratelimit_register: Mapped[str | None] = mapped_column(sa.String(MAX_LIMIT))
    auto_hide_reports: Mapped[int | None]
    abuse_email: Mapped[str] = mapped_column(sa.String(254), default="")
    # New-member safety: a new account's first N posts wait for approval; links in posts
    # only after N approved posts (0: off).
    held_first_posts: Mapped[int] = mapped_column(default=0)
    links_after_posts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
