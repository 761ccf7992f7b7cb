"""The admin console (/admin): load → authorise → one service call → commit → show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from fancampaign.accounts.models import User
from fancampaign.accounts.services import get_by_username
from fancampaign.admin import dashboard, forms, services, sitesettings
from fancampaign.errors import DomainError
from fancampaign.extensions import db
from fancampaign.guards import admin_required
from fancampaign.mail.models import OutboxMessage
from fancampaign.moderation.services import user_history
from fancampaign.routing import page_arg
from fancampaign.web import attach_error, base_url, render_form

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@admin_required
def _admins_only() -> None:
    """Every page of the console: visitors log in, everyone else but admins gets 403."""


@bp.app_template_global("admin_endpoints")
def admin_endpoints() -> set[str]:
    """The endpoints this app serves (the console's menu links only to those)."""
    return set(current_app.view_functions)


def _act(form: Any, action: Callable[[], Any], done: str, to: str) -> Any:
    """Run a service for a valid form: commit, flash and redirect; or the status to show the
    form again with, the refusal on it (rolled back)."""
    if not form.validate_on_submit():
        return 400
    try:
        action()
    except DomainError as err:
        attach_error(form, err, err.details.get("field"))
        return err.status_code
    db.session.commit()
    flash(done, "success")
    return redirect(to)


@bp.route("/")
def index() -> Any:
    return render_template(
        "admin/index.html",
        series=dashboard.series(),
        open_reports=dashboard.open_reports(),
        median_wait=dashboard.duration(dashboard.median_decision_time()),
        days=dashboard.DAYS,
    )


# Users ----------------------------------------------------------------------------------


@bp.route("/users")
def users() -> Any:
    form = forms.UserFilterForm(request.args)
    if not form.validate():
        return render_template("admin/users.html", form=form, pagination=None, rows=[]), 400
    page = page_arg()
    pagination, rows = services.user_rows(form.q.data or "", form.role.data or "", page)
    return render_template("admin/users.html", form=form, pagination=pagination, rows=rows)


def _user_or_404(username: str) -> User:
    user = get_by_username(username) if len(username) <= 30 else None
    if user is None or user.is_deleted:
        abort(404)
    return user


def _user_page(user: User, status: int = 200, **forms_: Any) -> Any:
    history = db.paginate(user_history(user), page=1, per_page=10, error_out=False)
    return render_form(
        "admin/user.html",
        status=status,
        row=services.user_counts(user),
        history=history,
        role_form=forms_.get("role_form") or forms.RoleForm(role=user.role.value),
        erase_form=forms_.get("erase_form") or forms.EraseForm(),
        resend_form=forms_.get("resend_form") or forms.BaseForm(),
    )


@bp.route("/users/<username>")
def user(username: str) -> Any:
    return _user_page(_user_or_404(username))


@bp.route("/users/<username>/role", methods=["POST"])
def change_role(username: str) -> Any:
    user = _user_or_404(username)
    form = forms.RoleForm()
    done = _act(
        form,
        lambda: services.change_role(current_user, user, form.role.data, form.reason.data),
        f"{user.username} is now {form.role.data}.",
        url_for("admin.user", username=user.username),
    )
    return done if not isinstance(done, int) else _user_page(user, done, role_form=form)


@bp.route("/users/<username>/resend-confirmation", methods=["POST"])
def resend_confirmation(username: str) -> Any:
    user = _user_or_404(username)
    form = forms.BaseForm()
    done = _act(
        form,
        lambda: services.resend_confirmation(
            current_user, user, current_app.secret_key or "", base_url()
        ),
        f"The confirmation link was sent again to {user.username}.",
        url_for("admin.user", username=user.username),
    )
    return done if not isinstance(done, int) else _user_page(user, done, resend_form=form)


@bp.route("/users/<username>/erase", methods=["POST"])
def erase(username: str) -> Any:
    user = _user_or_404(username)
    form = forms.EraseForm()
    done = _act(
        form,
        lambda: services.erase_account(current_user, user, form.confirm.data, form.reason.data),
        "The account was erased; what it wrote now shows as “deleted user”.",
        url_for("admin.users"),
    )
    return done if not isinstance(done, int) else _user_page(user, done, erase_form=form)


# Site settings --------------------------------------------------------------------------

SETTING_FIELDS = (
    "site_name",
    "tagline",
    "accent_colour",
    "footer_text",
    "registration_open",
    *services.LIMIT_FIELDS,
    *services.COUNT_FIELDS,
    "abuse_email",
)


def _save_settings(form: forms.SettingsForm) -> None:
    values = {name: form[name].data for name in SETTING_FIELDS}
    uploads = {"logo_key": form.logo.data, "share_image_key": form.share_image.data}
    removals = {"logo_key": form.remove_logo.data, "share_image_key": form.remove_share_image.data}
    for field, upload in uploads.items():
        if removals[field] and not upload:
            services.remove_image(current_user, field)
    services.update_settings(current_user, values, {k: v or None for k, v in uploads.items()})


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Any:
    current = sitesettings.current()
    form = forms.SettingsForm()
    if request.method == "GET":
        for name in SETTING_FIELDS:
            form[name].data = getattr(current, name)
        form.site_name.data = current.name
    done = _act(form, lambda: _save_settings(form), "Settings saved.", url_for("admin.settings"))
    if not isinstance(done, int):
        return done
    return render_form(
        "admin/settings.html",
        status=200 if request.method == "GET" else done,
        form=form,
        current=current,
    )


# Mail -----------------------------------------------------------------------------------


@bp.route("/mail")
def mail() -> Any:
    state = request.args.get("state", "failed")
    if state not in services.MAIL_STATES:
        abort(404)
    page = page_arg()
    return render_template(
        "admin/mail.html",
        state=state,
        counts=services.mail_counts(),
        pagination=services.mail_page(state, page),
        form=forms.BaseForm(),
    )


@bp.route("/mail/<int:message_id>/resend", methods=["POST"])
def resend_mail(message_id: int) -> Any:
    message = db.get_or_404(OutboxMessage, message_id)
    form = forms.BaseForm()
    if not form.validate_on_submit():
        abort(400, "The form expired; please try again.")
    try:
        services.resend_mail(current_user, message)
    except DomainError as err:
        db.session.rollback()
        abort(err.status_code, err.message)
    db.session.commit()
    flash(f"“{message.subject}” will be sent again.", "success")
    return redirect(url_for("admin.mail", state="failed"))
