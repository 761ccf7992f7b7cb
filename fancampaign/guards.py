"""View decorators built on the policies: an early 403 (or a redirect to log in)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from fancampaign import policies


def _to_login() -> Any:
    flash("Please log in to continue.", "info")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def guard(predicate: Callable[[Any], bool]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow the view when predicate(current_user) holds; visitors go to log in, others get 403."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _to_login()
            if not predicate(current_user):
                # A suspended organiser or moderator is told why their tools are gone.
                standing = policies.in_good_standing(current_user)
                abort(403, None if standing else policies.participation_problem(current_user))
            return view(*args, **kwargs)

        return wrapped

    return decorator


login_required = guard(policies.is_member)
organiser_required = guard(policies.is_organiser)
moderator_required = guard(policies.can_moderate)
admin_required = guard(policies.can_admin)


def participant_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Logged in, confirmed and not suspended; otherwise a clear message and 403."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _to_login()
        problem = policies.participation_problem(current_user)
        if problem:
            abort(403, problem)
        return view(*args, **kwargs)

    return wrapped
