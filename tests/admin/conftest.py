"""Admin console test kit: the moderation kit's login, staff and cheap hashes."""

from __future__ import annotations

from tests.moderation.conftest import (  # noqa: F401  (fixtures)
    admin,
    fast_password_hashes,
    login,
    moderator,
)
