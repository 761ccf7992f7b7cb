"""Small helpers shared by the views: form errors, safe redirects, absolute URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import render_template, request

from fancampaign.errors import DomainError
from fancampaign.extensions import db
from fancampaign.urls import absolute_path, absolute_url, base_url  # noqa: F401  (the web layer's own)


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths are followed after login (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


def attach_error(form: Any, err: DomainError, field: str | None = None) -> None:
    """Put a service's refusal next to the field it is about (`field`, else the one the error
    names, else the top of the form); every one of several (InputErrors)."""
    db.session.rollback()
    for one in getattr(err, "errors", None) or [err]:
        name = field or one.details.get("field")
        if name and name in form._fields:
            form._fields[name].errors = [*list(form._fields[name].errors or []), one.message]
        else:
            form.form_errors.append(one.message)


def render_form(template: str, status: int = 200, **context: Any) -> Any:
    """Render a page with a form: 200 when shown, 400 when it comes back with errors."""
    forms = [v for v in context.values() if hasattr(v, "errors") and hasattr(v, "_fields")]
    if request.method == "POST" and any(f.errors or f.form_errors for f in forms):
        status = 400 if status == 200 else status
    return render_template(template, **context), status
