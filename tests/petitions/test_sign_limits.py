"""Signing limits: per member account, per guest address, and a high ceiling per IP address,
so that a meetup, a school or a mobile carrier's NAT can sign from one address; and a cap on
the mails one address can be sent however it is spelt."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from fancampaign.accounts import services as accounts
from fancampaign.admin.models import SiteSettings
from fancampaign.extensions import db
from fancampaign.mail.models import OutboxMessage
from fancampaign.petitions.models import Signature
from tests.factories import make_petition, make_user
from tests.helpers import make_login


@pytest.fixture(autouse=True)
def fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many accounts: a cheap hash keeps these tests quick."""
    monkeypatch.setattr(
        accounts,
        "hash_password",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"),
    )


@pytest.fixture
def login(client: Any) -> Any:
    return make_login(client)


def _signatures(petition: Any) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(Signature.petition_id == petition.id))


def _guest(client: Any, petition: Any, email: str, name: str = "Guest Fan") -> Any:
    data = {"name": name, "email": email, "consent": "y"}
    return client.post(f"/petitions/{petition.slug}/sign", data=data)


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_one_address_does_not_limit_other_members_signing(app, client, login):
    # 40 members at one meetup, all behind the venue's one IP address (the old limit: 30/hour).
    petition = make_petition(goal=1000)
    members = [make_user(commit=False) for _ in range(40)]
    db.session.commit()
    for member in members:
        login(member)
        response = client.post(f"/petitions/{petition.slug}/sign", data={"is_public": "y"})
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert _signatures(petition) == 40


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="3 per hour")
def test_a_member_past_the_signing_limit_gets_429_and_others_still_sign(app, client, login):
    petitions = [make_petition() for _ in range(4)]
    busy, other = make_user("busy"), make_user("other")
    login(busy)
    first = client.post(f"/petitions/{petitions[0].slug}/sign")
    withdrawn = client.post(f"/petitions/{petitions[0].slug}/withdraw")  # counts as signing
    second = client.post(f"/petitions/{petitions[1].slug}/sign")
    assert [r.status_code for r in (first, withdrawn, second)] == [303, 303, 303]
    refused = client.post(f"/petitions/{petitions[2].slug}/sign")
    assert refused.status_code == 429
    assert "You have signed or withdrawn many times in the last hour" in refused.get_data(
        as_text=True
    )
    assert refused.headers["Retry-After"]
    assert _signatures(petitions[2]) == 0
    login(other)  # same IP address, another account
    assert client.post(f"/petitions/{petitions[2].slug}/sign").status_code == 303


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_EMAIL="3 per hour")
def test_a_guest_address_past_its_limit_gets_429_however_it_is_spelt(app, client, outbox):
    petitions = [make_petition() for _ in range(4)]
    spellings = ["jane.fan@gmail.com", "JaneFan+alita@gmail.com", "j.a.n.e.fan@googlemail.com"]
    for petition, email in zip(petitions, spellings, strict=False):
        assert _guest(client, petition, email).status_code == 303
    refused = _guest(client, petitions[3], "jane.f.a.n+more@gmail.com")
    assert refused.status_code == 429
    assert "Please wait a while" in refused.get_data(as_text=True)
    assert _signatures(petitions[3]) == 0
    # Another guest at the same IP address is not held up by Jane's limit.
    assert _guest(client, petitions[3], "kim@example.com", "Kim").status_code == 303


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IP="4 per hour")
def test_one_ip_address_has_a_ceiling_for_everyone(app, client, login):
    petition = make_petition()
    members = [make_user(commit=False) for _ in range(3)]
    db.session.commit()
    for member in members:
        login(member)
        assert client.post(f"/petitions/{petition.slug}/sign").status_code == 303
    login(None)
    assert _guest(client, petition, "guest@example.com").status_code == 303
    refused = _guest(client, petition, "another@example.com")
    assert refused.status_code == 429
    assert "from your network" in refused.get_data(as_text=True)


def test_confirmation_mails_are_capped_per_address(app, client, outbox):
    # 20 signs of one petition with 5 spellings of one Gmail address: each gets the same
    # "check your inbox" answer as the first, but the mailbox gets at most 3 mails an hour.
    petition = make_petition()
    spellings = [
        "ana.lima@gmail.com",
        "analima@gmail.com",
        "Ana.Lima+petition@gmail.com",
        "a.n.a.l.i.m.a@googlemail.com",
        "ANALIMA+x@GMAIL.COM",
    ]
    answers = {
        (response.status_code, response.headers.get("Location"))
        for response in (_guest(client, petition, spellings[n % 5]) for n in range(20))
    }
    assert answers == {(303, f"/petitions/{petition.slug}/signed")}
    assert len(outbox) == 3  # RATELIMIT_SIGN_MAIL: "3 per hour"
    assert _signatures(petition) == 1
    # Only that address is capped.
    assert _guest(client, petition, "someone.else@gmail.com", "Someone").status_code == 303
    assert len(outbox) == 4
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.recipient == "analima@gmail.com")
        )
        == 3
    )


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_an_oversized_sign_form_gets_413_and_leaves_the_limits_alone(app, client, caplog):
    petition = make_petition()
    data = {"name": "Guest", "email": "a" * (9 * 1024 * 1024) + "@example.com", "consent": "y"}
    response = client.post(f"/petitions/{petition.slug}/sign", data=data)
    assert response.status_code == 413
    # Reading the address for its limit failed like the view would: not taken for Redis gone.
    assert "Rate limit storage unreachable" not in caplog.text


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="100 per hour")
def test_a_signing_limit_changed_by_another_worker_holds_at_the_next_signature(app, client, login):
    # The settings' version comes with the member's login query: a change this worker did not
    # make (the row written behind its back, as another worker's save is) applies at once.
    petitions = [make_petition() for _ in range(4)]
    busy = make_user("busy")

    def sign(petition: Any) -> int:
        login(busy)  # a new request loads its user afresh, as every request does
        return client.post(f"/petitions/{petition.slug}/sign").status_code

    assert sign(petitions[0]) == 303
    db.session.add(SiteSettings(id=1, version=7, ratelimit_sign="1 per hour"))
    db.session.commit()
    # (A limit's count is kept per limit: the first signature under the new one passes.)
    assert sign(petitions[1]) == 303
    assert sign(petitions[2]) == 429
    db.session.execute(sa.update(SiteSettings).values(ratelimit_sign="100 per hour", version=8))
    db.session.commit()
    assert sign(petitions[2]) == 303
