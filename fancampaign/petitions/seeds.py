"""Demo petitions: the sequel petition (open), a closed one and a won one, with signatures.

The petitions go through the services; the thousands of generated signatures are
bulk-inserted (one executemany per petition) and each counter is then set exactly from the
rows, so `fancampaign recount` finds nothing to repair.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow
from fancampaign.ledger import services as ledger
from fancampaign.petitions import services
from fancampaign.petitions.models import Petition, Signature
from fancampaign.seeds import read_seed


def load(users: dict[str, User]) -> None:
    data = read_seed("petitions.json")
    rng = random.Random(2019)  # the same demo every time
    organiser = users["ido"]
    for spec in data["petitions"]:
        petition = services.create_petition(
            organiser,
            title=spec["title"],
            summary=spec["summary"],
            body=spec["body"],
            target=spec["target"],
            goal=spec["goal"],
        )
        opened = utcnow() - timedelta(days=spec["days"])
        petition.created_at = petition.opened_at = opened
        db.session.flush()
        if spec["key"] == "sequel":
            for username in ("hugo", "koyomi", "zapan", "chiren"):
                services.sign_petition(
                    users[username],
                    petition,
                    reason=rng.choice(data["reasons"]),
                    country=rng.choice(["US", "GB", "JP", "FR"]),
                    is_public=True,
                    keep_updated=True,
                )
        _bulk_signatures(petition, spec, data, rng, opened)
        if spec["status"] in ("closed", "won"):
            services.close_petition(organiser, petition)
            petition.closed_at = opened + timedelta(days=spec["days"] - 2)
        if spec["status"] == "won":
            services.mark_won(organiser, petition, spec["victory_note"])
        db.session.flush()
    _set_counters_from_rows()


def _bulk_signatures(
    petition: Petition, spec: dict[str, Any], data: dict[str, Any], rng: random.Random, opened: Any
) -> None:
    countries = [code for code, weight in data["countries"] for _ in range(weight)]
    span = timedelta(days=spec["days"] - (2 if spec["status"] != "open" else 0))
    now = utcnow()
    rows = []
    for i in range(spec["signatures"]):
        # Busier at the start and in bursts, as petitions are when they are shared.
        fraction = rng.random() ** 1.6 if rng.random() < 0.6 else rng.random()
        at = min(opened + span * fraction, now - timedelta(minutes=1))
        name = f"{rng.choice(data['first_names'])} {rng.choice(data['last_initials'])}."
        rows.append(
            {
                "petition_id": petition.id,
                "name": name,
                "email": f"signer{i}.{petition.id}@example.org",
                "email_normalised": f"signer{i}.{petition.id}@example.org",
                "country": rng.choice(countries) if rng.random() < 0.85 else None,
                "reason": rng.choice(data["reasons"]) if rng.random() < 0.05 else "",
                "is_public": rng.random() < 0.6,
                "keep_updated": rng.random() < 0.4,
                "confirmed_at": at,
                "created_at": at,
            }
        )
    db.session.execute(sa.insert(Signature), rows)
    ledger.record_existing(petition.id)


def _set_counters_from_rows() -> None:
    services.recount(fix=True)
