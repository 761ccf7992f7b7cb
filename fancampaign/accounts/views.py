"""Account pages: register, confirm, log in and out, reset, profile, settings."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from fancampaign import signals
from fancampaign.accounts import avatars, forms, hooks, services  # noqa: F401  (hooks connect signals)
from fancampaign.admin import sitesettings
from fancampaign.errors import (
    AccountBanned,
    DomainError,
    EmailTaken,
    InvalidInput,
    InvalidToken,
    UsernameTaken,
)
from fancampaign.extensions import db, limiter
from fancampaign.guards import login_required
from fancampaign.web import attach_error, base_url, render_form, safe_next

bp = Blueprint("accounts", __name__)


def _limit(name: str) -> Any:
    return limiter.limit(lambda: sitesettings.value(name), methods=["POST"])


@bp.route("/register", methods=["GET", "POST"])
@_limit("RATELIMIT_REGISTER")
def register() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    if not sitesettings.current().registration_open:
        abort(403, "Registration is closed for now. Please come back later.")
    form = forms.RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(
                form.username.data,
                form.email.data,
                form.password.data,
                display_name=form.display_name.data or "",
            )
            services.send_confirmation(user, current_app.secret_key, base_url())
        except UsernameTaken as err:
            attach_error(form, err, "username")
        except EmailTaken:
            # Say nothing that reveals whether the address has an account: the owner is told.
            db.session.rollback()
            _tell_owner_of_existing_account(form.email.data)
            db.session.commit()
            flash(REGISTERED, "success")
            return redirect(url_for("main.index"))
        except DomainError as err:
            attach_error(form, err)
        else:
            # Not logged in yet, so the answer is the same whether or not the address was
            # known; following the emailed link logs the new member in.
            db.session.commit()
            flash(REGISTERED, "success")
            return redirect(url_for("main.index"))
    return render_form("accounts/register.html", form=form)


REGISTERED = (
    "Check your inbox: we sent a link to confirm your email address. "
    "Follow it to finish creating your account."
)


def _tell_owner_of_existing_account(email: str) -> None:
    from fancampaign.mail.services import queue_email

    try:
        email = services.check_email(email)
    except DomainError:
        return
    queue_email(
        email,
        "Someone tried to register with your email address",
        "Someone (perhaps you) tried to create a fancampaign account with this email address, "
        f"which already has one. To log in, go to {base_url()}/login — if you forgot your "
        f"password, reset it at {base_url()}/reset-password.\n",
    )


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> Any:
    max_age = current_app.config["CONFIRM_TOKEN_MAX_AGE"]
    try:
        user = services.user_for_confirm_token(token, current_app.secret_key, max_age)
        email = services.confirm_token_email(token, current_app.secret_key, max_age)
    except InvalidToken as err:
        return render_template("accounts/token_invalid.html", message=err.message), 400
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        try:
            changed = services.confirm_email(user, email)
        except DomainError as err:
            db.session.rollback()
            return render_template("accounts/token_invalid.html", message=err.message), 400
        db.session.commit()
        if changed and not current_user.is_authenticated and user.is_active:
            login_user(user)
        flash(
            "Thank you: your email address is confirmed."
            if changed
            else "Your email address was already confirmed.",
            "success",
        )
        return redirect(url_for("main.index"))
    return render_form("accounts/confirm.html", form=form, email=email)


@bp.route("/login", methods=["GET", "POST"])
@_limit("RATELIMIT_LOGIN")
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = forms.LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.login.data, form.password.data)
        except AccountBanned as err:
            attach_error(form, err)
            return render_form("accounts/login.html", form=form, status=403)
        if user is None:
            form.form_errors.append("That username or email and password do not match.")
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            flash(_welcome(user), "success")
            return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    return render_form("accounts/login.html", form=form)


def _welcome(user: Any) -> str:
    # Someone who never confirmed their address has not really been here yet.
    if not user.is_confirmed:
        return (
            f"Welcome, {user.name}. Confirm your email address with the link we sent you to "
            "sign petitions and post; until then you can read everything."
        )
    return f"Welcome back, {user.name}."


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    if current_user.is_authenticated:
        # Ended on the server too: a copy of the cookie kept from before no longer logs in.
        services.end_sessions(current_user)
        db.session.commit()
    logout_user()
    flash("You have logged out.", "info")
    return redirect(url_for("main.index"))


@bp.route("/reset-password", methods=["GET", "POST"])
@_limit("RATELIMIT_RESET")
def reset_request() -> Any:
    form = forms.ResetRequestForm()
    if form.validate_on_submit():
        try:
            services.request_password_reset(form.email.data, current_app.secret_key, base_url())
        except DomainError as err:
            attach_error(form, err, "email")
            return render_form("accounts/reset_request.html", form=form)
        db.session.commit()
        flash(
            "If that address has an account, we sent it a link to reset the password. "
            "Check your inbox.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_form("accounts/reset_request.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Any:
    try:
        user = services.user_for_reset_token(
            token, current_app.secret_key, current_app.config["RESET_TOKEN_MAX_AGE"]
        )
    except InvalidToken as err:
        return render_template("accounts/token_invalid.html", message=err.message), 400
    form = forms.ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(user, form.password.data)
        except DomainError as err:
            attach_error(form, err, "password")
        else:
            db.session.commit()
            logout_user()
            flash("Your password has been changed. You can log in with it now.", "success")
            return redirect(url_for("accounts.login"))
    return render_form("accounts/reset_password.html", form=form)


@bp.route("/u/<username>")
def profile(username: str) -> Any:
    user = services.get_by_username(username)
    if user is None or user.is_deleted:
        abort(404)
    sections = sorted(
        (
            result
            for _r, result in signals.profile_sections.send(user, viewer=current_user)
            if result
        ),
        key=lambda s: s[0],
    )
    return render_template("accounts/profile.html", user=user, sections=sections)


@bp.route("/u/<username>/avatar")
def avatar(username: str) -> Any:
    user = services.get_by_username(username)
    if user is None or user.is_deleted:
        abort(404)
    # Pages link the avatar with a `v` that changes with it: a day in any cache is safe.
    if user.avatar_key:
        return send_from_directory(
            current_app.config["UPLOAD_FOLDER"], user.avatar_key, max_age=avatars.CACHE_SECONDS
        )
    response = Response(avatars.letter_svg(user.username, user.name), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = avatars.CACHE_SECONDS
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.add_etag()
    return response.make_conditional(request)


SETTINGS_FORMS = ("profile", "avatar", "email", "password", "export", "delete")


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings() -> Any:
    user = current_user._get_current_object()
    action = (
        next((name for name in SETTINGS_FORMS if f"{name}-action" in request.form), None)
        if request.method == "POST"
        else None
    )

    def make(name: str, cls: Any, **kw: Any) -> Any:
        # Only the posted form reads the request; the others show their defaults.
        if action != name:
            kw["formdata"] = None
        return cls(prefix=name, **kw)

    profile_form = make("profile", forms.ProfileForm, obj=user)
    avatar_form = make("avatar", forms.AvatarForm)
    email_form = make("email", forms.EmailChangeForm)
    password_form = make("password", forms.PasswordChangeForm)
    export_form = make("export", forms.ExportForm)
    delete_form = make("delete", forms.DeleteAccountForm)
    handlers = {
        "profile": (profile_form, _save_profile),
        "avatar": (avatar_form, _save_avatar),
        "email": (email_form, _save_email),
        "password": (password_form, _save_password),
        "export": (export_form, _export),
        "delete": (delete_form, _delete),
    }
    if request.method == "POST":
        if action not in handlers:
            abort(400, "Unknown settings form.")
        form, handler = handlers[action]
        if form.validate_on_submit():
            try:
                response = handler(user, form)
            except DomainError as err:
                field = "current_password" if "password is not right" in err.message else None
                if field is None and action == "email":
                    field = "email"
                if field is None and action == "password":
                    field = "new_password"
                attach_error(form, err, field)
            else:
                return response
    return render_form(
        "accounts/settings.html",
        user=user,
        profile_form=profile_form,
        avatar_form=avatar_form,
        email_form=email_form,
        password_form=password_form,
        export_form=export_form,
        delete_form=delete_form,
    )


def _save_profile(user: Any, form: forms.ProfileForm) -> Any:
    services.update_profile(
        user, display_name=form.display_name.data or "", bio=form.bio.data or ""
    )
    db.session.commit()
    flash("Your profile has been saved.", "success")
    return redirect(url_for("accounts.settings"))


def _save_avatar(user: Any, form: forms.AvatarForm) -> Any:
    if form.remove.data:
        services.remove_avatar(user)
        message = "You now have the letter avatar."
    elif form.avatar.data:
        services.set_avatar(user, form.avatar.data)
        message = "Your picture has been saved."
    else:
        raise InvalidInput("Choose a picture to upload.", field="avatar")
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("accounts.settings"))


def _save_email(user: Any, form: forms.EmailChangeForm) -> Any:
    try:
        services.change_email(user, form.email.data, form.current_password.data)
    except EmailTaken:
        # Do not reveal that the address has an account: behave as if a link was sent.
        db.session.rollback()
        flash("We sent a link to the new address. Your email changes once you follow it.", "info")
        return redirect(url_for("accounts.settings"))
    services.send_confirmation(user, current_app.secret_key, base_url())
    db.session.commit()
    flash("We sent a link to the new address. Your email changes once you follow it.", "info")
    return redirect(url_for("accounts.settings"))


def _save_password(user: Any, form: forms.PasswordChangeForm) -> Any:
    services.change_password(user, form.current_password.data, form.new_password.data)
    db.session.commit()
    login_user(user)  # the session token rotated: keep this session, end the others
    flash("Your password has been changed. Other devices have been logged out.", "success")
    return redirect(url_for("accounts.settings"))


def _export(user: Any, form: forms.ExportForm) -> Any:
    data = services.export_data(user)
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="fancampaign-{user.username}.json"'},
    )


def _delete(user: Any, form: forms.DeleteAccountForm) -> Any:
    services.delete_account(user, form.current_password.data)
    db.session.commit()
    logout_user()
    flash("Your account has been deleted and your personal data erased.", "info")
    return redirect(url_for("main.index"))
