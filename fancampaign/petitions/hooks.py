"""How petitions plug into the rest: account signals, profile and home sections, the forum."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fancampaign import policies, signals
from fancampaign.accounts.models import User
from fancampaign.extensions import db
from fancampaign.petitions import services
from fancampaign.petitions.models import CARD_OPTIONS, PUBLIC_STATUSES, Petition


@signals.email_confirmed.connect
def _claim(user: User, **_kw: Any) -> None:
    services.claim_guest_signatures(user)


@signals.account_exporting.connect
def _export(user: User, **_kw: Any) -> tuple[str, Any]:
    return "signatures", services.export_signatures(user)


@signals.account_exporting.connect
def _export_recruiting(user: User, **_kw: Any) -> tuple[str, Any]:
    return "share_link", services.export_recruiting(user)


@signals.account_deleting.connect
def _erase(user: User, **_kw: Any) -> None:
    services.anonymise_signatures(user)
    services.forget_recruiter(user)


@signals.profile_sections.connect
def _profile(user: User, viewer: Any = None, **_kw: Any) -> tuple[int, str, dict[str, Any]]:
    is_owner = policies.is_member(viewer) and viewer.id == user.id
    signed = services.signed_by(user, public_only=not is_owner)
    # What their share links brought is for them alone.
    brought = services.brought_by(user) if is_owner else {}
    context = {"signed": signed, "is_owner": is_owner, "brought": brought}
    return 40, "petitions/_profile_section.html", context


@signals.home_sections.connect
def _home(_app: Any, **_kw: Any) -> tuple[int, str, dict[str, Any]] | None:
    petitions = list(
        db.session.scalars(
            services.list_petitions("open", "popular").limit(3).options(*CARD_OPTIONS)
        )
    )
    return 20, "petitions/_home_section.html", {"petitions": petitions}


@signals.sitemap_entries.connect
def _sitemap(_app: Any, limit: int = 5000, **_kw: Any) -> list[tuple[str, Any]]:
    rows = db.session.execute(
        sa.select(Petition.slug, Petition.updated_at)
        .where(Petition.status.in_(PUBLIC_STATUSES))
        .order_by(Petition.id.desc())
        .limit(limit)
    )
    return [("/petitions", None), *((f"/petitions/{slug}", at) for slug, at in rows)]


def load_petitions(ids: list[int]) -> dict[int, Petition]:
    """The forum's loader for petition cards above discussion threads."""
    return {p.id: p for p in db.session.scalars(sa.select(Petition).where(Petition.id.in_(ids)))}


def register_with_forum() -> None:
    try:
        from fancampaign.forum.discussions import register_subject
    except ImportError:
        return
    register_subject("petition", load_petitions, "petitions/_card.html")


register_with_forum()
