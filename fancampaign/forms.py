"""Shared form pieces: a base form that cleans text and refuses NUL bytes."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms.validators import ValidationError


def no_control_chars(form: Any, field: Any) -> None:
    """Refuse NUL and other control characters (newlines and tabs aside) with a message."""
    data = field.data
    if isinstance(data, str) and any(
        (ord(ch) < 32 and ch not in "\n\r\t") or ch == "\x7f" for ch in data
    ):
        raise ValidationError("This contains characters that are not allowed.")


class BaseForm(FlaskForm):
    """Every field refuses control characters; an explicit check, not a silent strip."""

    def validate(self, extra_validators: dict[str, list[Any]] | None = None) -> bool:
        extra = dict(extra_validators or {})
        for name, field in self._fields.items():
            if field.type in (
                "StringField",
                "TextAreaField",
                "EmailField",
                "PasswordField",
                "SearchField",
                "URLField",
                "TelField",
            ):
                extra.setdefault(name, []).append(no_control_chars)
        return super().validate(extra_validators=extra)
