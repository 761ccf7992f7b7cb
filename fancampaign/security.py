"""Security headers on every response: a strict CSP, no sniffing, no framing but the embed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, g

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
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
    @app.after_request
    def _headers(response: Response) -> Response:
        framing = g.get("allow_framing", False)
        response.headers.setdefault(
            "Content-Security-Policy", CSP.format(frame_ancestors="*" if framing else "'none'")
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if not framing:
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        )
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
