"""Shared form pieces: a base form that cleans text and refuses NUL bytes, and signs its CSRF
token only if it is rendered."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF, generate_csrf
from wtforms.validators import ValidationError


class TokenWhenRendered:
    """A form's CSRF token, signed when the form is rendered. WTForms signs one as each form
    is built; a POST answered with a redirect (the one-click signature, the hottest form)
    would sign one it never sends: an HMAC and a serializer, 8% of a signing request."""

    __slots__ = ("secret_key", "token_key")

    def __init__(self, secret_key: Any, token_key: str) -> None:
        self.secret_key = secret_key
        self.token_key = token_key

    def __str__(self) -> str:
        return str(generate_csrf(secret_key=self.secret_key, token_key=self.token_key))

    def __html__(self) -> str:
        return str(self)  # URL-safe base64 and dots: nothing to escape

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class _CSRFWhenRendered(_FlaskFormCSRF):  # type: ignore[misc]
    def generate_csrf_token(self, csrf_token_field: Any) -> Any:
        return TokenWhenRendered(self.meta.csrf_secret, self.meta.csrf_field_name)


def no_control_chars(form: Any, field: Any) -> None:
    """Refuse NUL and other control characters (newlines and tabs aside) with a message."""
    data = field.data
    if isinstance(data, str) and any(
        (ord(ch) < 32 and ch not in "\n\r\t") or ch == "\x7f" for ch in data
    ):
        raise ValidationError("This contains characters that are not allowed.")


class BaseForm(FlaskForm):
    """Every field refuses control characters; an explicit check, not a silent strip."""

    class Meta(FlaskForm.Meta):
        csrf_class = _CSRFWhenRendered

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
