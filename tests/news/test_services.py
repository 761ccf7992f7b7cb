"""News services: writing, publication rules, slugs, tags, updates, emails to signers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.campaign.models import CampaignEvent, CampaignMail
from fancampaign.errors import InvalidToken
from fancampaign.extensions import db, utcnow
from fancampaign.forum.models import Thread
from fancampaign.news import services
from fancampaign.news.models import NewsPost, Tag
from fancampaign.petitions.models import Signature
from fancampaign.petitions.services import sign_petition
from tests.factories import make_news_post, make_petition, make_user


def visible_slugs() -> list[str]:
    return [p.slug for p in db.session.scalars(services.visible_posts())]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.MEMBER, False),
        (Role.ORGANISER, True),
        (Role.MODERATOR, True),
        (Role.ADMIN, True),
    ],
)
def test_only_organisers_and_admins_write_news(app: Any, role: Role, allowed: bool) -> None:
    user = make_user(role=role)
    if allowed:
        assert make_news_post(user).is_published
    else:
        with pytest.raises(services.CannotWriteNews):
            make_news_post(user)


def test_suspended_organiser_cannot_write(app: Any) -> None:
    user = make_user(role=Role.ORGANISER, suspended_until=utcnow() + timedelta(days=1))
    with pytest.raises(services.CannotWriteNews):
        make_news_post(user)


def test_post_stores_rendered_markdown_reading_time_and_dates(organiser: Any) -> None:
    body = "## Section\n\n> A quote\n\n- one\n- two\n\n[link](https://example.com)\n\n" + (
        "word " * 900
    )
    post = make_news_post(organiser, title="Hope returns", body=body)
    assert "<h2>Section</h2>" in post.body_html
    assert "<blockquote>" in post.body_html
    assert "<li>one</li>" in post.body_html
    assert 'href="https://example.com"' in post.body_html
    assert post.reading_minutes == 4
    assert post.published_at is not None
    assert post.author_id == organiser.id
    assert post.slug == "hope-returns"


def test_markdown_body_is_sanitised(organiser: Any) -> None:
    post = make_news_post(organiser, body="<script>alert(1)</script> [x](javascript:alert(1))")
    assert "<script>" not in post.body_html
    assert 'href="javascript' not in post.body_html


def test_slugs_are_unique_with_a_counter(organiser: Any) -> None:
    slugs = [make_news_post(organiser, title="Same title").slug for _ in range(3)]
    assert slugs == ["same-title", "same-title-2", "same-title-3"]


def test_slug_never_shadows_a_news_path(organiser: Any) -> None:
    assert make_news_post(organiser, title="New").slug == "new-post"


def test_edit_keeps_the_slug(organiser: Any) -> None:
    post = make_news_post(organiser, title="First title")
    services.update_post(organiser, post, title="Another title", body="Body", publish="now")
    db.session.commit()
    assert post.slug == "first-title"
    assert post.title == "Another title"


def test_concurrent_creation_gets_distinct_slugs(app: Any, organiser: Any) -> None:
    organiser_id = organiser.id
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def write() -> None:
        # Each thread has its own app context and so its own session and connection; the
        # POST request context makes SQLite begin IMMEDIATE, as a real request would.
        try:
            with app.test_request_context("/news/new", method="POST"):
                from fancampaign.accounts.models import User

                barrier.wait(timeout=10)
                author = db.session.get(User, organiser_id)
                post = services.create_post(
                    author, title="Breaking news", body="Body", publish="draft"
                )
                db.session.commit()
                results.append(post.slug)
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(results) == sorted(
        ["breaking-news", "breaking-news-2", "breaking-news-3", "breaking-news-4"]
    )


def test_drafts_and_future_posts_are_not_visible(organiser: Any) -> None:
    draft = make_news_post(organiser, title="Draft", publish="draft")
    later = make_news_post(
        organiser,
        title="Later",
        publish="schedule",
        publish_at=utcnow() + timedelta(hours=1),
    )
    out = make_news_post(organiser, title="Out")
    assert visible_slugs() == [out.slug]
    assert not draft.is_published and later.is_scheduled
    member = make_user()
    with pytest.raises(services.PostNotFound):
        services.get_post(draft.slug, member)
    with pytest.raises(services.PostNotFound):
        services.get_post(later.slug, member)
    assert services.get_post(later.slug, organiser) is later


def test_scheduled_post_appears_once_due_without_a_job(organiser: Any) -> None:
    post = make_news_post(organiser, publish="schedule", publish_at=utcnow() + timedelta(minutes=5))
    assert visible_slugs() == []
    # Time passes: nothing runs, the read itself decides.
    db.session.execute(
        sa.update(NewsPost)
        .where(NewsPost.id == post.id)
        .values(published_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert visible_slugs() == [post.slug]


def test_schedule_in_the_past_is_refused(organiser: Any) -> None:
    with pytest.raises(services.InvalidPost, match="future"):
        make_news_post(organiser, publish="schedule", publish_at=utcnow() - timedelta(hours=1))
    with pytest.raises(services.InvalidPost):
        make_news_post(organiser, publish="schedule", publish_at=None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NewsPost)) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "   "}, "title"),
        ({"body": " \n "}, "body"),
        ({"title": "x" * 201}, "title"),
        ({"body": "x" * 100_001}, "body"),
        ({"standfirst": "x" * 501}, "standfirst"),
        ({"publish": "whenever"}, "publish"),
        ({"tags": ",".join(f"t{i}" for i in range(11))}, "tags"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    organiser: Any, fields: dict[str, Any], message: str
) -> None:
    base = {"title": "Title", "body": "Body"}
    with pytest.raises(services.InvalidPost, match=f"(?i){message}"):
        services.create_post(organiser, **{**base, **fields})
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NewsPost)) == 0


def test_tags_are_normalised_and_shared(organiser: Any) -> None:
    a = make_news_post(organiser, tags="Alita, SEQUEL , sequel,  Battle Angel!, ,")
    b = make_news_post(organiser, tags=["alita"])
    assert a.tag_names == ["alita", "battle-angel", "sequel"]
    assert b.tag_names == ["alita"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Tag)) == 3
    assert [p.slug for p in db.session.scalars(services.visible_posts("alita"))] == [
        b.slug,
        a.slug,
    ]


def test_publishing_starts_the_discussion_in_news_discussion(organiser: Any) -> None:
    draft = make_news_post(organiser, publish="draft")
    assert draft.thread_id is None
    services.update_post(organiser, draft, title=draft.title, body=draft.body, publish="now")
    db.session.commit()
    thread = db.session.get(Thread, draft.thread_id)
    assert thread is not None
    assert thread.category.slug == "news-discussion"
    assert (thread.subject_kind, thread.subject_id) == ("news", draft.id)


def test_scheduled_post_opens_its_discussion_when_due(organiser: Any) -> None:
    post = make_news_post(organiser, publish="schedule", publish_at=utcnow() + timedelta(minutes=5))
    assert post.thread_id is None
    post.published_at = utcnow() - timedelta(seconds=1)
    services.ensure_discussion(post)
    assert post.thread_id is not None


def test_developing_story_updates_are_appended(organiser: Any) -> None:
    post = make_news_post(organiser)
    services.add_update(organiser, post, "The studio *replied*.")
    services.add_update(organiser, post, "And again.")
    db.session.commit()
    db.session.expire_all()
    assert [u.body for u in post.updates] == ["The studio *replied*.", "And again."]
    assert "<em>replied</em>" in post.updates[0].body_html
    assert post.is_developing
    with pytest.raises(services.InvalidPost):
        services.add_update(organiser, post, "   ")
    with pytest.raises(services.NotAllowed):
        services.add_update(make_user(), post, "Not mine")


# Petitions and the "keep me updated" emails ---------------------------------------------


def signers(petition: Any, n: int, *, keep_updated: bool = True) -> list[Signature]:
    out = []
    for _ in range(n):
        out.append(sign_petition(make_user(), petition, keep_updated=keep_updated))
    db.session.commit()
    return out


def news_mail() -> list[CampaignMail]:
    return list(
        db.session.scalars(
            sa.select(CampaignMail)
            .join(CampaignEvent, CampaignEvent.id == CampaignMail.event_id)
            .where(CampaignEvent.kind == "news")
            .order_by(CampaignMail.id)
        )
    )


def test_publishing_emails_each_signer_who_asked_once(organiser: Any, outbox: Any) -> None:
    petition = make_petition(organiser)
    wanted = signers(petition, 3)
    signers(petition, 2, keep_updated=False)
    post = make_news_post(organiser, petition_ids=[petition.id])
    assert [m.signature_id for m in news_mail()] == [s.id for s in wanted]
    events = {m.event_id for m in news_mail()}
    assert set(
        db.session.scalars(
            sa.select(CampaignEvent.news_post_id).where(CampaignEvent.id.in_(events))
        )
    ) == {post.id}
    # Saving again queues nothing new.
    for _ in range(2):
        services.update_post(
            organiser, post, title="Edited", body="Body", publish="now", petition_ids=[petition.id]
        )
    db.session.commit()
    assert len(news_mail()) == 3


def test_signer_of_two_linked_petitions_gets_one_email(organiser: Any) -> None:
    one, two = make_petition(organiser), make_petition(organiser)
    fan = make_user()
    sign_petition(fan, one, keep_updated=True)
    sign_petition(fan, two, keep_updated=True)
    db.session.commit()
    make_news_post(organiser, petition_ids=[one.id, two.id])
    assert [m.email for m in news_mail()] == [fan.email]


def test_every_signer_who_asked_is_queued(organiser: Any) -> None:
    petition = make_petition(organiser)
    signers(petition, 5)
    make_news_post(organiser, petition_ids=[petition.id])
    assert len(news_mail()) == 5


def test_draft_sends_nothing_and_scheduled_mail_waits(organiser: Any, outbox: Any) -> None:
    petition = make_petition(organiser)
    signers(petition, 2)
    make_news_post(organiser, petition_ids=[petition.id], publish="draft")
    assert news_mail() == []
    when = utcnow() + timedelta(hours=2)
    make_news_post(organiser, petition_ids=[petition.id], publish="schedule", publish_at=when)
    queued = news_mail()
    assert len(queued) == 2
    assert all(m.sent_at is None and m.next_attempt_at == when for m in queued)


def test_unpublishing_withdraws_unsent_emails(organiser: Any) -> None:
    petition = make_petition(organiser)
    signers(petition, 2)
    post = make_news_post(
        organiser,
        petition_ids=[petition.id],
        publish="schedule",
        publish_at=utcnow() + timedelta(hours=2),
    )
    services.update_post(
        organiser, post, title=post.title, body=post.body, petition_ids=[petition.id]
    )
    db.session.commit()
    assert news_mail() == []


def test_unknown_or_private_petition_is_refused(organiser: Any) -> None:
    draft_petition = make_petition(organiser, status="draft")
    with pytest.raises(services.UnknownPetition):
        make_news_post(organiser, petition_ids=[draft_petition.id])
    with pytest.raises(services.UnknownPetition):
        make_news_post(organiser, petition_ids=[99999])


def test_unsubscribe_token_turns_keep_updated_off(organiser: Any) -> None:
    petition = make_petition(organiser)
    (signature,) = signers(petition, 1)
    token = services.unsubscribe_token(signature.id)
    services.unsubscribe(token)
    db.session.commit()
    assert db.session.get(Signature, signature.id).keep_updated is False
    with pytest.raises(InvalidToken):
        services.unsubscribe(token[:-2] + "xx")


def test_petition_lists_its_published_posts(organiser: Any) -> None:
    petition = make_petition(organiser)
    out = make_news_post(organiser, petition_ids=[petition.id])
    make_news_post(organiser, petition_ids=[petition.id], publish="draft")
    assert services.posts_for_petition(petition) == [out]


def test_export_lists_authored_posts(organiser: Any) -> None:
    make_news_post(organiser, title="Mine")
    assert [p["title"] for p in services.export_posts(organiser)] == ["Mine"]
