"""News forms: input shape only."""

from __future__ import annotations

from typing import Any

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from fancampaign.forms import BaseForm
from fancampaign.news.models import (
    MAX_ALT,
    MAX_BODY,
    MAX_STANDFIRST,
    MAX_TITLE,
    MAX_UPDATE,
)

PUBLISH_CHOICES = [
    SelectChoice("draft", "Save as a draft"),
    SelectChoice("now", "Publish now"),
    SelectChoice("schedule", "Schedule for later"),
]


def _not_blank(message: str) -> Any:
    def check(form: Any, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError(message)

    return check


class NewsPostForm(BaseForm):
    title = StringField(
        "Title",
        validators=[
            DataRequired("Enter a title."),
            _not_blank("Enter a title."),
            Length(max=MAX_TITLE, message=f"The title must be at most {MAX_TITLE} characters."),
        ],
    )
    standfirst = TextAreaField(
        "Standfirst",
        description="One or two sentences under the headline, also used in lists and feeds.",
        validators=[
            Optional(),
            Length(
                max=MAX_STANDFIRST,
                message=f"The standfirst must be at most {MAX_STANDFIRST} characters.",
            ),
        ],
    )
    body = TextAreaField(
        "Body",
        description="Markdown: ## headings, > quotes, - lists, [links](https://…) and images.",
        validators=[
            DataRequired("Write the body of the post."),
            _not_blank("Write the body of the post."),
            Length(max=MAX_BODY, message=f"The body must be at most {MAX_BODY:,} characters."),
        ],
    )
    cover = FileField(
        "Cover image",
        description="JPEG, PNG or WebP, at most 5 MB.",
    )
    cover_alt = StringField(
        "Describe the cover image",
        description="For people who cannot see it (alt text).",
        validators=[
            Optional(),
            Length(max=MAX_ALT, message=f"The description must be at most {MAX_ALT} characters."),
        ],
    )
    remove_cover = BooleanField("Remove the cover image")
    tags = StringField(
        "Tags",
        description="Separated by commas, for example: alita, sequel, campaign.",
        validators=[Optional(), Length(max=500, message="Too many tags.")],
    )
    petitions = SelectMultipleField(
        "Linked petitions",
        description="Their signers who asked to be kept updated get an email when you publish.",
        coerce=int,
        validate_choice=True,
    )
    is_developing = BooleanField("This is a developing story (updates will be added)")
    publish = RadioField(
        "Publication",
        choices=PUBLISH_CHOICES,
        default="draft",
        validators=[DataRequired("Choose whether to publish.")],
    )
    publish_at = DateTimeLocalField(
        "Publish at (UTC)",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
        description="Only for scheduled posts.",
    )

    def validate_publish_at(self, field: Any) -> None:
        if self.publish.data == "schedule" and field.data is None and not field.errors:
            raise ValidationError("Choose when to publish the post.")

    def validate_petitions(self, field: Any) -> None:
        if field.data and len(field.data) > 20:
            raise ValidationError("Link at most 20 petitions.")


class NewsUpdateForm(BaseForm):
    update = TextAreaField(
        "Add an update",
        description="Shown under the article with today's date and time.",
        validators=[
            DataRequired("Write the update."),
            _not_blank("Write the update."),
            Length(max=MAX_UPDATE, message=f"An update must be at most {MAX_UPDATE:,} characters."),
        ],
    )
    email_update = BooleanField(
        "Email this update to the signers of the linked petitions who asked for updates",
        default=False,
    )


class UnsubscribeForm(BaseForm):
    pass
