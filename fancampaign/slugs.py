"""Slugs that are unique within one table column (the database half of text.slugify)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fancampaign.extensions import db


def unique_slug(column: Any, base: str) -> str:
    """`base` if no row has it in `column`, else the first free `base-2`, `base-3`, ..."""
    taken = set(
        db.session.scalars(
            sa.select(column).where(sa.or_(column == base, column.like(f"{base}-%")))
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
