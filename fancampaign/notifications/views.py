"""The user's notifications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from fancampaign import signals
from fancampaign.errors import DomainError
from fancampaign.extensions import db
from fancampaign.forms import BaseForm
from fancampaign.guards import login_required
from fancampaign.notifications import forms, services
from fancampaign.routing import page_arg
from fancampaign.web import attach_error, render_form, safe_next

bp = Blueprint("notifications", __name__)


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def index() -> Any:
    form = BaseForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash("The form expired; please try again.", "error")
            return redirect(url_for("notifications.index"))
        raw_id = request.form.get("id", "")
        notification_id = int(raw_id) if raw_id.isdigit() else None
        services.mark_read(current_user, notification_id)
        db.session.commit()
        target = request.form.get("next")
        if notification_id is not None and target:
            return redirect(safe_next(target, url_for("notifications.index")))
        flash("Marked as read.", "success")
        return redirect(url_for("notifications.index"))
    page = page_arg()
    pagination = db.paginate(
        services.list_for(current_user), page=page, per_page=30, error_out=False
    )
    return render_template("notifications/index.html", pagination=pagination, form=form)


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings() -> Any:
    """Each type's channel (in the app, email, digest, off) and the digest's frequency."""
    channels = services.channels_for(current_user)
    form = forms.NotificationSettingsForm(
        data={**channels, "digest": services.digest_frequency(current_user)}
    )
    if form.validate_on_submit():
        try:
            services.save_preferences(
                current_user, {f.name: f.data for f in form.type_fields()}, form.digest.data
            )
        except DomainError as err:
            attach_error(form, err)
        else:
            db.session.commit()
            flash("Your notification settings are saved.", "success")
            return redirect(url_for("notifications.settings"))
    return render_form("notifications/settings.html", form=form)


@signals.account_exporting.connect
def _export(user: Any, **_kw: Any) -> tuple[str, Any]:
    return "notifications", services.export_for(user)


@signals.account_exporting.connect
def _export_settings(user: Any, **_kw: Any) -> tuple[str, Any]:
    return "notification_settings", {
        "channels": services.channels_for(user),
        "digest": services.digest_frequency(user),
    }


@signals.account_deleting.connect
def _erase(user: Any, **_kw: Any) -> None:
    services.erase_for(user)
