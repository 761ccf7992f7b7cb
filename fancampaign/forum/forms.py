"""Forum forms: input shape only."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from fancampaign.forms import BaseForm
from fancampaign.forum.models import MAX_BODY, MAX_TITLE

BODY_HINT = "Markdown works: **bold**, _italic_, > quotes, lists and links. @username mentions."


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


_TITLE_LENGTH = Length(max=MAX_TITLE, message=f"The title must be {MAX_TITLE} characters or fewer.")


def _body_field(label: str) -> TextAreaField:
    """A post's Markdown body (new thread, reply, edit)."""
    return TextAreaField(
        label,
        validators=[
            DataRequired("Write something first."),
            Length(max=MAX_BODY, message=f"A post must be {MAX_BODY:,} characters or fewer."),
        ],
        description=BODY_HINT,
    )


def _preview_button() -> SubmitField:
    """The form's second button: shows the post rendered, posts nothing."""
    return SubmitField("Preview")


class ThreadForm(BaseForm):
    title = StringField(
        "Title",
        validators=[DataRequired("Enter a title."), _TITLE_LENGTH],
        filters=[_strip],
    )
    body = _body_field("Your post")
    preview = _preview_button()


class ReplyForm(BaseForm):
    body = _body_field("Your reply")
    next = HiddenField()
    # The post this reply answers (its Reply button), by id.
    reply_to = HiddenField()
    preview = _preview_button()


class EditPostForm(BaseForm):
    title = StringField(
        "Title",
        validators=[Optional(), _TITLE_LENGTH],
        filters=[_strip],
    )
    body = _body_field("Your post")
    preview = _preview_button()


class CategoryForm(BaseForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Enter a name."), Length(max=80)],
        filters=[_strip],
    )
    slug = StringField(
        "Address",
        validators=[Optional(), Length(max=60)],
        description="Lowercase words joined by hyphens; made from the name when left empty.",
        filters=[_strip],
    )
    description = StringField("Description", validators=[Optional(), Length(max=500)])
    position = IntegerField("Position", validators=[Optional(), NumberRange(min=0, max=10_000)])
    is_staff_only = BooleanField("Only organisers and staff start threads here")
