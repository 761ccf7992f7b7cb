"""Petition and signing forms: input shape only."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import html_params

from fancampaign.forms import BaseForm
from fancampaign.petitions.countries import COUNTRIES, country_choices
from fancampaign.petitions.models import REASON_MAX, SOURCE_LABEL_MAX


class CountrySelect:
    """A <select> of the ISO 3166 list, rendered from one prebuilt list of options."""

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        kwargs.pop("required", None)
        kwargs.pop("minlength", None)
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(
                code, Markup(" selected") if code == (field.data or "") else "", name
            )
            for code, name in country_choices()
        )
        return Markup("<select {}>{}</select>").format(
            Markup(html_params(name=field.name, **kwargs)),  # noqa: S704  (html_params escapes)
            options,
        )


class CountryField(StringField):
    """A country code from the list (or nothing). A plain field with an O(1) check: the
    signing form is the hottest form on the site, and SelectField's choice handling costs
    more than the rest of the request's Python."""

    widget = CountrySelect()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type = "SelectField"  # rendered by the field macro as a select

    def pre_validate(self, form: Any) -> None:
        if self.data and self.data not in COUNTRIES:
            raise ValidationError("Choose a country from the list.")


class PetitionForm(BaseForm):
    title = StringField(
        "Title",
        validators=[DataRequired("Enter a title."), Length(10, 150)],
        description="What should happen, in one line: 10 to 150 characters.",
    )
    target = StringField(
        "To",
        validators=[DataRequired("Say who the petition is addressed to."), Length(2, 200)],
        description="Who can make it happen, e.g. 20th Century Studios.",
    )
    summary = StringField(
        "Summary",
        validators=[DataRequired("Enter a summary."), Length(10, 300)],
        description="One or two sentences shown in lists: 10 to 300 characters.",
    )
    body = TextAreaField(
        "Why it matters",
        validators=[Optional(), Length(max=20_000)],
        description="Markdown: **bold**, _italic_, [links](https://example.org), lists.",
    )
    goal = IntegerField(
        "Signature goal",
        default=1000,
        validators=[
            InputRequired("Enter a goal as a whole number."),
            NumberRange(1, 100_000_000, "The goal must be a number from 1 to 100,000,000."),
        ],
    )
    deadline = DateField(
        "Deadline",
        validators=[Optional()],
        description="Optional. The petition closes at the end of this day (UTC).",
    )


class SignForm(BaseForm):
    """A member's one-click signature, with optional extras."""

    reason = TextAreaField(
        "Why are you signing?",
        validators=[Optional(), Length(max=REASON_MAX)],
        description=f"At most {REASON_MAX} characters. Shown on the petition page.",
    )
    country = CountryField("Country", default="")
    # "Publicly" is about this site's pages: the delivery names every signer (the sign box and
    # the guest's consent say so).
    is_public = BooleanField("Show my name on this site's pages", default=True)
    keep_updated = BooleanField("Keep me updated about this petition", default=True)


class GuestSignForm(SignForm):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(1, 100)])
    email = EmailField(
        "Email address",
        validators=[DataRequired("Enter your email address."), Length(max=254)],
        description="We email you a link: your signature counts once you confirm it.",
    )
    consent = BooleanField(
        "I agree my name and email are kept for this petition and my name and country go "
        "to its target",
        validators=[DataRequired("Please agree so that we can count your signature.")],
    )


class VictoryForm(BaseForm):
    note = TextAreaField(
        "What was won",
        validators=[DataRequired("Tell people what was won."), Length(3, 5000)],
    )


class SourceForm(BaseForm):
    """An organiser's named source of signatures (a newsletter, a Discord server)."""

    label = StringField(
        "Name of the source",
        validators=[DataRequired("Name the source."), Length(1, SOURCE_LABEL_MAX)],
        description="Where you will post the link, e.g. newsletter or Discord.",
    )
