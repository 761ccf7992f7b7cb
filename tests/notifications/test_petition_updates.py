"""Petition updates reach member signers in the app (their mail is the campaign mail they chose
when signing), unless they turned petition updates off."""

from __future__ import annotations

import pytest

from fancampaign.campaign import services as campaign
from fancampaign.errors import InvalidInput
from fancampaign.extensions import db
from fancampaign.notifications import services
from fancampaign.petitions import services as petitions
from tests.factories import make_petition, make_user
from tests.notifications.conftest import notes


def test_member_signers_who_asked_for_updates_hear_of_them_in_the_app(app):
    petition = make_petition(title="Make the sequel")
    keen, quiet, silent = make_user("keen"), make_user("quiet"), make_user("silent")
    petitions.sign_petition(keen, petition, keep_updated=True)
    petitions.sign_petition(quiet, petition, keep_updated=False)
    petitions.sign_petition(silent, petition, keep_updated=True)
    services.save_preferences(silent, {"petition_update": "off"}, "weekly")
    db.session.commit()
    campaign._record(petition, "won", "Victory!")
    db.session.commit()
    [note] = notes(keen)
    assert note.kind == "petition_update"
    assert note.text == "Update on “Make the sequel”: Victory!"
    assert note.url == f"/petitions/{petition.slug}"
    assert notes(quiet) == [] and notes(silent) == []


def test_petition_updates_are_in_the_app_or_off(app):
    with pytest.raises(InvalidInput):
        services.save_preferences(make_user(), {"petition_update": "email"}, "weekly")
