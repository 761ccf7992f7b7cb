"""Security headers on every response: a strict CSP, no sniffing, no framing but the embed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, g

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors {frame_ancestors}"
)


def embeddable(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as meant for an iframe on other sites (the petition widget)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.allow_framing = True
        return view(*args, **kwargs)

    return wrapped


def register(app: Flask) -> None:
    common = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    ]
    if app.config.get("SESSION_COOKIE_SECURE"):
        common.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    # Worked out once: every response gets one of these two lists.
    framed = [("Content-Security-Policy", CSP.format(frame_ancestors="*")), *common]
    unframed = [
        ("Content-Security-Policy", CSP.format(frame_ancestors="'none'")),
        ("X-Frame-Options", "DENY"),
        *common,
    ]

    @app.after_request
    def _headers(response: Response) -> Response:
        # What a view set itself stays (one pass over the headers, not one per header).
        present = {name.lower() for name, _ in response.headers}
        wanted = framed if g.get("allow_framing", False) else unframed
        response.headers.extend([item for item in wanted if item[0].lower() not in present])
        return response
