"""Account forms: input shape only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from fancampaign.accounts.services import check_email, check_password, check_username
from fancampaign.errors import InvalidInput
from fancampaign.forms import BaseForm


def _rule(check: Callable[[str], Any]) -> Callable[[Any, Any], None]:
    """A field validator from an account rule (the service checks the same again), so a form
    shows every field's problem in one answer."""

    def validate(_form: Any, field: Any) -> None:
        try:
            check(field.data or "")
        except InvalidInput as err:
            raise ValidationError(err.message) from None

    return validate


class RegisterForm(BaseForm):
    username = StringField(
        "Username",
        validators=[DataRequired("Choose a username."), Length(max=30), _rule(check_username)],
    )
    display_name = StringField("Display name", validators=[Optional(), Length(max=60)])
    email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter your email address."),
            Length(max=254),
            _rule(check_email),
        ],
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Choose a password."), Length(max=200)]
    )

    def validate_password(self, field: Any) -> None:
        try:
            check_password(field.data, username=self.username.data, email=self.email.data)
        except InvalidInput as err:
            raise ValidationError(err.message) from None

    confirm = PasswordField(
        "Repeat the password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The passwords differ."),
        ],
    )


class LoginForm(BaseForm):
    login = StringField(
        "Username or email address",
        validators=[DataRequired("Enter your username or email address."), Length(max=254)],
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=200)]
    )
    remember = BooleanField("Keep me logged in on this device")


class ConfirmForm(BaseForm):
    """The button behind an emailed link: mail scanners follow links, they do not press buttons."""


class ResetRequestForm(BaseForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address."), Length(max=254)]
    )


class ResetPasswordForm(BaseForm):
    password = PasswordField(
        "New password", validators=[DataRequired("Choose a new password."), Length(max=200)]
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The passwords differ."),
        ],
    )


class ProfileForm(BaseForm):
    action = HiddenField(default="profile")
    display_name = StringField("Display name", validators=[Optional(), Length(max=60)])
    bio = TextAreaField("About you", validators=[Optional(), Length(max=2000)])


class AvatarForm(BaseForm):
    action = HiddenField(default="avatar")
    avatar = FileField("Picture", description="JPEG, PNG or WebP, at most 5 MB; cropped square.")
    remove = BooleanField("Use the letter avatar instead")


class EmailChangeForm(BaseForm):
    action = HiddenField(default="email")
    email = EmailField(
        "New email address",
        validators=[DataRequired("Enter the new email address."), Length(max=254)],
    )
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=200)],
    )


class PasswordChangeForm(BaseForm):
    action = HiddenField(default="password")
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=200)],
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired("Choose a new password."), Length(max=200)]
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("new_password", "The passwords differ."),
        ],
    )


class ExportForm(BaseForm):
    action = HiddenField(default="export")


class DeleteAccountForm(BaseForm):
    action = HiddenField(default="delete")
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=200)],
    )
    confirm = BooleanField(
        "I understand that my account will be erased and cannot be restored",
        validators=[DataRequired("Tick the box to confirm.")],
    )
