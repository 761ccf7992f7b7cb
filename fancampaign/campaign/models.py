"""Campaign tables: the timeline's events, the mail queue they fill, deliveries, responses."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fancampaign.accounts.models import User
from fancampaign.extensions import db, utcnow
from fancampaign.petitions.models import Petition

# Kinds of timeline event, as the timeline names them.
EVENT_KINDS = {
    "opened": "Petition opened",
    "milestone": "Milestone reached",
    "news": "Update from the organisers",
    "update": "Developing story",
    "delivered": "Petition delivered",
    "acknowledged": "Receipt acknowledged",
    "response": "Response received",
    "closed": "Petition closed",
    "reopened": "Petition reopened",
    "won": "Victory",
}
# Which milestones a petition mails its signers about (the organiser chooses per petition).
MILESTONE_MAIL = {"all": "Every milestone", "goal": "Only the goal", "none": "None"}
DELIVERY_METHODS = {"email": "By email", "in_person": "In person", "post": "By post"}
RESPONSE_SOURCES = {"target": "From the target", "elsewhere": "Received elsewhere"}


class CampaignEvent(db.Model):
    """One dated entry on a petition's timeline. `key` makes automatic events happen once
    (e.g. "milestone:1000", "news:7"); mail for the event is queued with it."""

    __tablename__ = "campaign_events"
    __table_args__ = (
        sa.UniqueConstraint("petition_id", "key", name="uq_campaign_events_petition_key"),
        sa.Index("ix_campaign_events_petition", "petition_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    key: Mapped[str | None] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    url: Mapped[str] = mapped_column(sa.String(500), default="")
    milestone: Mapped[int | None]
    news_post_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("news_posts.id", ondelete="CASCADE")
    )
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How many mails were queued for it (0: nobody asked, or not mailed).
    mailed: Mapped[int] = mapped_column(default=0)
    # When signers were told in the app (set at once when they never will be). None: a
    # scheduled update waiting for its time; the worker tells it once (services.tell_due).
    told_at: Mapped[datetime | None] = mapped_column(index=True)

    petition: Mapped[Petition] = relationship(lazy="raise_on_sql")

    @property
    def label(self) -> str:
        return EVENT_KINDS.get(self.kind, self.kind)


class CampaignMail(db.Model):
    """One mail to one signer about one event: queued by INSERT ... SELECT in the event's
    transaction, rendered and sent by the worker. A worker claims rows (claimed_until) before
    sending, so two workers never send the same one."""

    __tablename__ = "campaign_mails"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "signature_id", name="uq_campaign_mails_event_signature"),
        sa.Index("ix_campaign_mails_due", "sent_at", "next_attempt_at"),
        sa.Index("ix_campaign_mails_sent", "sent_at"),
        sa.Index("ix_campaign_mails_signature", "signature_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_events.id", ondelete="CASCADE"))
    signature_id: Mapped[int] = mapped_column(sa.ForeignKey("signatures.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    # Set when one of this mail's unsubscribe links is used: each link works once.
    unsubscribed_at: Mapped[datetime | None]

    event: Mapped[CampaignEvent] = relationship(lazy="raise_on_sql")


class CampaignOptOut(db.Model):
    """An address that wants no campaign mail at all (every petition)."""

    __tablename__ = "campaign_opt_outs"

    email_normalised: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignSettings(db.Model):
    """A petition's campaign choices (a row only once the organiser changes the default)."""

    __tablename__ = "campaign_settings"

    petition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    milestone_mail: Mapped[str] = mapped_column(sa.String(10), default="goal")


class Delivery(db.Model):
    """The petition handed to its target: to whom, when, how, and the count at that moment."""

    __tablename__ = "deliveries"
    __table_args__ = (sa.Index("ix_deliveries_petition", "petition_id", "delivered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(sa.String(200))
    delivered_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    signature_count: Mapped[int]
    # JSON {"GB": 120, ...} of confirmed signatures by country at delivery, or NULL.
    countries_json: Mapped[str | None] = mapped_column(sa.Text)
    # The verifiable signature log's checkpoint at delivery (issue 21 fills it in).
    checkpoint: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def countries(self) -> dict[str, int]:
        value: Any = json.loads(self.countries_json) if self.countries_json else {}
        return dict(value)

    @property
    def method_label(self) -> str:
        return DELIVERY_METHODS.get(self.method, self.method)


class ResponseLink(db.Model):
    """A one-time link for the target's contact to acknowledge and answer the petition.
    Only the token's SHA-256 is stored."""

    __tablename__ = "response_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("petitions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    contact: Mapped[str] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.expires_at > utcnow()


class TargetResponse(db.Model):
    """The target's answer, shown on the petition: from the target itself (through a response
    link) or received elsewhere and posted by an organiser with its source."""

    __tablename__ = "target_responses"
    __table_args__ = (sa.Index("ix_target_responses_petition", "petition_id", "responded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.String(20))
    responder: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    source_url: Mapped[str] = mapped_column(sa.String(500), default="")
    responded_at: Mapped[datetime] = mapped_column(default=utcnow)
    link_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("response_links.id", ondelete="SET NULL")
    )
    posted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def source_label(self) -> str:
        return RESPONSE_SOURCES.get(self.source, self.source)
