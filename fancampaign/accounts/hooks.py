"""How accounts plug into the rest: what happens around a login."""

from __future__ import annotations

from typing import Any

from flask import g, session
from flask_login import user_logged_in


@user_logged_in.connect
def _new_csrf_token(_app: Any, **_kw: Any) -> None:
    """A login starts a new CSRF token: one a visitor had before (perhaps read from a page
    by someone else) does not work for the account."""
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)
