"""Campaign forms: input shape only."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from fancampaign.campaign.models import DELIVERY_METHODS, MILESTONE_MAIL
from fancampaign.forms import BaseForm


def _choices(pairs: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs.items()]


class MilestoneMailForm(BaseForm):
    milestone_mail = RadioField(
        "Email signers when the petition reaches a milestone",
        choices=_choices(MILESTONE_MAIL),
        default="goal",
        validators=[InputRequired("Choose which milestones to email.")],
    )


class DeliveryForm(BaseForm):
    recipient = StringField(
        "Delivered to",
        validators=[DataRequired("Say who received the petition."), Length(2, 200)],
        description="A person and their organisation, e.g. Jane Doe, 20th Century Studios.",
    )
    delivered_at = DateTimeLocalField(
        "When (UTC)",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description="Leave empty for now.",
    )
    method = RadioField(
        "How",
        choices=_choices(DELIVERY_METHODS),
        default="email",
        validators=[InputRequired("Choose how it was delivered.")],
    )
    note = TextAreaField("Note", validators=[Optional(), Length(max=5000)])
    with_countries = BooleanField("Record the count by country at this moment", default=True)


class ResponseLinkForm(BaseForm):
    contact = StringField(
        "Contact at the target",
        validators=[DataRequired("Name the contact."), Length(2, 200)],
        description="Who will open the link, e.g. Jane Doe, Head of Fan Relations.",
    )
    days = IntegerField(
        "Valid for (days)",
        default=30,
        validators=[InputRequired("Enter a number of days."), NumberRange(1, 365)],
    )


class ElsewhereResponseForm(BaseForm):
    responder = StringField(
        "Who responded",
        validators=[DataRequired("Say who responded."), Length(2, 200)],
    )
    body = TextAreaField(
        "The response",
        validators=[DataRequired("Write the response."), Length(3, 20_000)],
        description="Markdown. Quote the response as it was given.",
    )
    source_url = URLField(
        "Where it was published",
        validators=[DataRequired("Give the web address of the response."), Length(max=500)],
    )
    responded_at = DateTimeLocalField(
        "When (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )


class RespondForm(BaseForm):
    """The target's form behind a response link: acknowledge, optionally answer."""

    responder = StringField("Your name and role", validators=[Optional(), Length(max=200)])
    body = TextAreaField(
        "Your response (optional)",
        validators=[Optional(), Length(max=20_000)],
        description="Shown on the petition as your response, with today's date, and emailed "
        "to the signers who asked for updates. Leave empty to only acknowledge receipt.",
    )


class ConfirmForm(BaseForm):
    """A button and its CSRF token: the action of a page a mail links to."""
