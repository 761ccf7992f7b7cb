"""The session cookie: Flask's signed cookie, each one verified once per process.

Flask opens the cookie on every request: it builds a signer from the keys, checks the
signature and the timestamp, then decodes the payload. For a member that is a tenth of a page
served from the page cache, and a member's cookie is the same bytes from one request to the
next until the session changes. So each worker keeps the cookies it verified lately (at most
`_KEPT`), with the time each stops being good (signed at + the session's lifetime), and
opens one it knows from its kept payload. Only a cookie verified with the current keys is
kept: a change of keys starts afresh. What a cookie says is never trusted beyond what Flask
would trust: a login is still checked against the account on every request.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

_KEPT = 4096  # cookies per process


class CookieSessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._keys: tuple[Any, ...] | None = None
        self._serializer: URLSafeTimedSerializer | None = None
        self._verified: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Flask's serializer, built once for the app's keys (Flask builds one per request)."""
        if not app.secret_key:
            return None
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if keys != self._keys or self._serializer is None:
            with self._lock:
                self._serializer = super().get_signing_serializer(app)
                self._verified = {}
                self._keys = keys
        return self._serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        verified = self._verified
        known = verified.get(value)
        if known is not None and known[0] > time.time():
            return self.session_class(copy.deepcopy(known[1]))
        lifetime = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=lifetime, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if len(verified) >= _KEPT:
            verified.clear()
        verified[value] = (signed_at.timestamp() + lifetime, copy.deepcopy(data))
        return self.session_class(data)
