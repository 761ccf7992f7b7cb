"""Campaign test kit: a petition with one member and one guest signer, each wanting updates
or not, and a way to run the mail worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.campaign import mailer
from fancampaign.campaign.models import CampaignMail
from fancampaign.extensions import db
from fancampaign.petitions import services as petitions
from fancampaign.petitions.models import Signature
from tests.factories import make_category, make_petition, make_user

SECRET = "test-secret-key"


@dataclass
class Signers:
    organiser: Any
    petition: Any
    member: Any
    member_signature: Any
    guest_signature: Any


def sign_guest(petition: Any, email: str, *, keep_updated: bool, name: str = "Gwen Guest") -> Any:
    petitions.sign_as_guest(
        petition,
        name=name,
        email=email,
        keep_updated=keep_updated,
        is_public=False,
        consent=True,
        secret_key=SECRET,
        base_url="http://localhost",
    )
    signature = db.session.scalar(
        sa.select(Signature).where(
            Signature.petition_id == petition.id, Signature.email_normalised == email
        )
    )
    petitions.confirm_signature(petitions.make_signature_token(signature, SECRET), SECRET, 3600)
    return signature


@pytest.fixture
def categories(app: Any) -> None:
    make_category("petition-discussion", name="Petition discussion")
    make_category("news-discussion", name="News discussion")


@pytest.fixture
def signers(app: Any, categories: None, request: pytest.FixtureRequest) -> Signers:
    """A petition (goal 2) signed by a member and a guest; `request.param` is
    (member wants updates, guest wants updates), default both."""
    member_wants, guest_wants = getattr(request, "param", (True, True))
    organiser = make_user("org", role=Role.ORGANISER)
    petition = make_petition(organiser, goal=2)
    member = make_user("mel")
    member_signature = petitions.sign_petition(member, petition, keep_updated=member_wants)
    guest_signature = sign_guest(petition, "gwen@example.org", keep_updated=guest_wants)
    db.session.commit()
    return Signers(organiser, petition, member, member_signature, guest_signature)


def queued_to(event_id: int | None = None) -> list[str]:
    query = sa.select(CampaignMail.email).order_by(CampaignMail.email)
    if event_id is not None:
        query = query.where(CampaignMail.event_id == event_id)
    return list(db.session.scalars(query))


def run_worker(rounds: int = 5) -> tuple[int, int]:
    sent = failed = 0
    for _ in range(rounds):
        s, f = mailer.send_batch()
        sent, failed = sent + s, failed + f
        if not s and not f:
            break
    return sent, failed
