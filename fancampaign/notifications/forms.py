"""The notification settings form: a channel per type, and the digest's frequency."""

from __future__ import annotations

from typing import Any

from wtforms import RadioField
from wtforms.fields.choices import SelectChoice

from fancampaign.forms import BaseForm
from fancampaign.notifications.models import APP_ONLY, NOT_OFF, TYPES

CHANNEL_WORDS = (
    ("app", "In the app"),
    ("email", "Email (at most one per thread every few minutes)"),
    ("digest", "In my digest"),
    ("off", "Off"),
)


class NotificationSettingsForm(BaseForm):
    digest = RadioField(
        "How often the digest comes",
        choices=[SelectChoice("daily", "Daily"), SelectChoice("weekly", "Weekly (Mondays)")],
        default="weekly",
    )

    def type_fields(self) -> list[Any]:
        """The per-type fields, in the settings page's order."""
        return [self[name] for name, _label, _default in TYPES]


for _name, _label, _default in TYPES:
    setattr(
        NotificationSettingsForm,
        _name,
        RadioField(
            _label,
            choices=[
                SelectChoice(value, words)
                for value, words in CHANNEL_WORDS
                if not (value == "off" and _name in NOT_OFF)
                and (value in ("app", "off") or _name not in APP_ONLY)
            ],
            default=_default,
        ),
    )
