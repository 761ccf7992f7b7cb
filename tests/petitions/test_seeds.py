"""The demo petitions load, with counters exactly matching their rows."""

from __future__ import annotations

import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.petitions import seeds, services
from fancampaign.petitions.models import Petition
from tests.factories import make_category, make_user


def test_demo_petitions(app, client):
    make_category("petition-discussion")
    users = {
        name: make_user(name, role=Role.ORGANISER if name == "ido" else Role.MEMBER)
        for name in ("ido", "hugo", "koyomi", "zapan", "chiren")
    }
    seeds.load(users)
    db.session.commit()
    petitions = {p.status: p for p in db.session.scalars(sa.select(Petition))}
    assert set(petitions) == {"open", "closed", "won"}
    sequel = petitions["open"]
    assert sequel.title == "Make Alita: Battle Angel 2 happen"
    assert sequel.target == "20th Century Studios and Lightstorm Entertainment"
    assert sequel.signature_count > 3000 and sequel.thread_id is not None
    assert services.recount() == []
    html = client.get(f"/petitions/{sequel.slug}").get_data(as_text=True)
    assert "Why people are signing" in html and "Top countries" in html
    assert "Signatures over time" in html
