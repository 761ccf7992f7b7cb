"""Moderation forms: input shape only."""

from __future__ import annotations

from typing import Any

from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from fancampaign.forms import BaseForm
from fancampaign.moderation.models import MAX_NOTE, MAX_REASON, REPORT_REASONS, WORD_ACTIONS


def _choices(pairs: Any) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


REASON_HINT = "Shown to the person affected, and kept in the moderation log."


def _reason_field() -> TextAreaField:
    return TextAreaField(
        "Reason",
        validators=[
            DataRequired("Give a reason: it is shown to the person affected."),
            Length(
                max=MAX_REASON, message=f"The reason must be {MAX_REASON:,} characters or fewer."
            ),
        ],
        description=REASON_HINT,
    )


class ReportForm(BaseForm):
    kind = HiddenField()
    id = HiddenField()
    next = HiddenField()
    reason = RadioField(
        "Why are you reporting this?",
        choices=_choices(REPORT_REASONS.items()),
        validators=[DataRequired("Choose why you are reporting this.")],
    )
    note = TextAreaField(
        "Anything moderators should know",
        validators=[
            Optional(),
            Length(max=MAX_NOTE, message=f"The note must be {MAX_NOTE:,} characters or fewer."),
        ],
    )


class ActionForm(BaseForm):
    """A moderation decision about one item: just the reason."""

    next = HiddenField()
    reason = _reason_field()


class EditForm(BaseForm):
    next = HiddenField()
    text = TextAreaField(
        "New text",
        validators=[DataRequired("Write the new text."), Length(max=50_000)],
    )
    reason = _reason_field()


class MoveForm(BaseForm):
    next = HiddenField()
    category = SelectField("Move to", coerce=str, validate_choice=False)
    reason = _reason_field()


class PetitionReviewForm(BaseForm):
    next = HiddenField()
    reason = TextAreaField(
        "Reason",
        validators=[
            Optional(),
            Length(
                max=MAX_REASON, message=f"The reason must be {MAX_REASON:,} characters or fewer."
            ),
        ],
        description="Required to reject: the creator is shown it.",
    )


class SanctionForm(BaseForm):
    next = HiddenField()
    action = RadioField(
        "Action",
        choices=_choices(
            [
                ("warn", "Warn"),
                (
                    "suspend",
                    "Suspend (can read and log in; cannot post, sign, report or start petitions)",
                ),
                ("ban", "Ban (cannot log in; every session ends at once)"),
                ("lift", "Lift a suspension or ban"),
            ]
        ),
        validators=[DataRequired("Choose what to do.")],
    )
    period = SelectField(
        "Suspend for",
        choices=_choices(
            [
                ("1d", "1 day"),
                ("3d", "3 days"),
                ("1w", "1 week"),
                ("1m", "1 month"),
                ("date", "Until a date (below)"),
            ]
        ),
        default="1w",
        validate_choice=False,
    )
    until = DateField(
        "Until (for “Until a date”)",
        validators=[Optional()],
        description="The suspension ends at the end of this day (UTC).",
    )
    reason = _reason_field()


class UserSearchForm(BaseForm):
    class Meta:
        csrf = False

    q = StringField(
        "Username or email starts with",
        validators=[Optional(), Length(max=100, message="Search for at most 100 characters.")],
    )


class WordForm(BaseForm):
    pattern = StringField(
        "Word or phrase",
        validators=[
            DataRequired("Enter a word or phrase."),
            Length(max=100, message="A word or phrase is at most 100 characters."),
        ],
        description="Whole words, any case. * matches any letters: spam* matches spammer.",
    )
    action = RadioField(
        "What happens to a post that contains it",
        choices=_choices(WORD_ACTIONS.items()),
        validators=[DataRequired("Choose block or hold.")],
    )
    message = StringField(
        "Message shown when blocked",
        validators=[Optional(), Length(max=200, message="At most 200 characters.")],
    )


class LogFilterForm(BaseForm):
    class Meta:
        csrf = False

    moderator = StringField("Moderator (username)", validators=[Optional(), Length(max=30)])
    action = SelectField("Action", validate_choice=False)
    kind = SelectField(
        "Target",
        choices=_choices(
            [
                ("", "Any"),
                ("post", "Posts"),
                ("thread", "Threads"),
                ("signature", "Signature reasons"),
                ("petition", "Petitions"),
                ("user", "Users"),
                ("word", "Watched words"),
            ]
        ),
        validate_choice=False,
    )


class AppealForm(BaseForm):
    note = TextAreaField(
        "Why should the decision change?",
        validators=[
            DataRequired("Tell the moderators why the decision should change."),
            Length(max=MAX_NOTE, message=f"At most {MAX_NOTE:,} characters, please."),
        ],
        description="Another moderator than the one who decided reads it. You can appeal once.",
    )


class AppealDecisionForm(BaseForm):
    outcome = RadioField(
        "Decision",
        choices=_choices(
            [
                ("uphold", "Uphold: undo the decision (restore the item, lift the sanction)"),
                ("reject", "Reject: the decision stands"),
            ]
        ),
        validators=[DataRequired("Choose a decision.")],
    )
    reason = _reason_field()
