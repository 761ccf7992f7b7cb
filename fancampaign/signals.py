"""Signals that let one area react to another without importing it."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the User being erased (before the row is anonymised). Receivers anonymise their data.
account_deleting = _signals.signal("account-deleting")
# sender: the User; receivers return (key, json-able data) for "export my data".
account_exporting = _signals.signal("account-exporting")
# sender: the User whose email was just confirmed; receivers claim guest data (signatures).
email_confirmed = _signals.signal("email-confirmed")
# sender: the profile's User, kwargs viewer=current user. Receivers return
# (order, template_name, context) for a section of the profile page.
profile_sections = _signals.signal("profile-sections")
# sender: the app. Receivers return (order, template_name, context) for a block of the home page.
home_sections = _signals.signal("home-sections")
# sender: the app. Receivers return [(path, last modified or None), ...]: their public pages
# for /sitemap.xml, newest first and bounded.
sitemap_entries = _signals.signal("sitemap-entries")
# sender: the User a digest is for, kwargs start, end (the period), root (BASE_URL). Receivers
# return [(order, title, [line, ...]), ...]: what happened in the period that they follow.
digest_sections = _signals.signal("digest-sections")
