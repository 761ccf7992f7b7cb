"""Admin console forms: input shape only."""

from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from fancampaign.accounts.models import Role
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
