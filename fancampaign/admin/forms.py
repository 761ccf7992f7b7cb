"""Admin console forms: input shape only."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from fancampaign.accounts.models import Role
from fancampaign.admin.models import MAX_FOOTER, MAX_LIMIT, MAX_SITE_NAME, MAX_TAGLINE
from fancampaign.forms import BaseForm
from fancampaign.moderation.forms import REASON_HINT
from fancampaign.moderation.models import MAX_REASON

ROLE_CHOICES = [SelectChoice(r.value, r.label) for r in Role]


def _reason() -> TextAreaField:
    return TextAreaField(
        "Reason",
        validators=[
            DataRequired("Give a reason: it is kept in the moderation log."),
            Length(max=MAX_REASON, message=f"At most {MAX_REASON:,} characters."),
        ],
        description=REASON_HINT,
    )


class UserFilterForm(BaseForm):
    class Meta:
        csrf = False

    q = StringField(
        "Name or email contains",
        validators=[Optional(), Length(max=100, message="Search for at most 100 characters.")],
    )
    role = SelectField(
        "Role",
        choices=[SelectChoice("", "Any role"), *ROLE_CHOICES],
        validators=[Optional()],
    )


class RoleForm(BaseForm):
    role = SelectField("New role", choices=ROLE_CHOICES)
    reason = _reason()


class EraseForm(BaseForm):
    confirm = StringField(
        "Type the username to confirm",
        validators=[DataRequired("Type the account's username to confirm."), Length(max=30)],
    )
    reason = _reason()


def _limit(label: str) -> StringField:
    return StringField(
        label,
        validators=[Optional(), Length(max=MAX_LIMIT, message="At most 60 characters.")],
        description="Such as “30 per hour” (several with “;”). Empty: the configured default.",
    )


class SettingsForm(BaseForm):
    site_name = StringField(
        "Site name",
        validators=[
            DataRequired("The site needs a name."),
            Length(max=MAX_SITE_NAME, message=f"At most {MAX_SITE_NAME} characters."),
        ],
    )
    tagline = StringField(
        "Tagline",
        validators=[Optional(), Length(max=MAX_TAGLINE, message=f"At most {MAX_TAGLINE}.")],
    )
    accent_colour = StringField(
        "Accent colour",
        validators=[Optional(), Length(max=7, message="Give the colour as #rrggbb.")],
        description=(
            "As #rrggbb; fills buttons and progress bars in the light and dark themes, so it "
            "must pass WCAG AA in both. Empty: the built-in colours."
        ),
    )
    logo = FileField("Logo", description="JPEG, PNG or WebP; shown beside the site name.")
    remove_logo = BooleanField("Remove the logo")
    share_image = FileField(
        "Default share image",
        description="JPEG, PNG or WebP; for links to pages without an image of their own.",
    )
    remove_share_image = BooleanField("Remove the default share image")
    footer_text = TextAreaField(
        "Footer text",
        validators=[Optional(), Length(max=MAX_FOOTER, message=f"At most {MAX_FOOTER:,}.")],
    )
    registration_open = BooleanField("New people can register")
    ratelimit_posts = _limit("Replies by a new account")
    ratelimit_threads = _limit("Threads by a new account")
    ratelimit_reports = _limit("Reports by a member")
    ratelimit_sign = _limit("Signatures from one address")
    ratelimit_register = _limit("Sign-ups from one address")
    auto_hide_reports = IntegerField(
        "Hide a post automatically after this many reports",
        validators=[Optional(), NumberRange(min=1, max=1000, message="From 1 to 1,000.")],
        description="Empty: the configured default.",
    )
    held_first_posts = IntegerField(
        "Hold a new account's first posts for approval",
        default=0,
        validators=[NumberRange(min=0, max=1000, message="From 0 to 1,000.")],
        description="How many of a new account's posts wait for a moderator (0: none).",
    )
    links_after_posts = IntegerField(
        "Allow links in posts after this many approved posts",
        default=0,
        validators=[NumberRange(min=0, max=1000, message="From 0 to 1,000.")],
        description="0: links allowed from the first post.",
    )
    abuse_email = StringField(
        "Address for abuse reports",
        validators=[Optional(), Length(max=254, message="At most 254 characters.")],
        description="Shown in the footer for people without an account.",
    )
