"""News services: the only code that writes news posts, tags, updates and their effects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, joinedload, selectinload

from fancampaign import policies
from fancampaign.accounts.marks import id_mark, ids_marked
from fancampaign.errors import DomainError, InvalidInput, InvalidToken, NotAllowed, NotFoundError
from fancampaign.extensions import db, utcnow
from fancampaign.news import images
from fancampaign.news.models import (
    DRAFT,
    MAX_ALT,
    MAX_BODY,
    MAX_SLUG,
    MAX_STANDFIRST,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    MAX_UPDATE,
    PUBLISHED,
    NewsPost,
    NewsUpdate,
    Tag,
    news_post_petitions,
    news_post_tags,
)
from fancampaign.petitions.models import PUBLIC_STATUSES, Petition
from fancampaign.slugs import unique_slug
from fancampaign.text import clean_multiline, clean_text, reading_time, render_markdown, slugify

# Paths under /news that a slug must never shadow.
RESERVED_SLUGS = frozenset({"new", "tag", "feed", "unsubscribe", "drafts"})
PUBLISH_CHOICES = ("draft", "now", "schedule")
DISCUSSION_CATEGORY = "news-discussion"
SLUG_ATTEMPTS = 20


class PostNotFound(NotFoundError):
    message = "There is no such news post."


class CannotWriteNews(NotAllowed):
    message = "Only organisers and admins write news."


class InvalidPost(InvalidInput):
    message = "Please check the post."


class UnknownPetition(InvalidInput):
    message = "One of the chosen petitions does not exist or is not public."


class SlugUnavailable(DomainError):
    status_code = 409
    message = "Could not find a free address for this post; please change the title."


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def normalise_tag(raw: str) -> str:
    """One tag: lowercase ASCII words joined by hyphens; "" when nothing is left."""
    tag = slugify(clean_text(raw), max_length=MAX_TAG)
    return "" if tag == "item" and "item" not in raw.lower() else tag


def normalise_tags(raw: str | Iterable[str]) -> list[str]:
    """Comma-separated (or listed) tags, normalised, without repeats, in the given order."""
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    seen: list[str] = []
    for part in parts:
        tag = normalise_tag(part)
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def visible_posts(tag: str | None = None) -> sa.Select[tuple[NewsPost]]:
    """Published, due posts, newest first (optionally of one tag), with what lists show."""
    return _published(tag).options(selectinload(NewsPost.author), selectinload(NewsPost.tags))


def sitemap(limit: int) -> list[tuple[str, Any]]:
    """(slug, updated at) of the newest published posts, for the sitemap."""
    return list(
        db.session.execute(
            sa.select(NewsPost.slug, NewsPost.updated_at)
            .where(NewsPost.visible_clause())
            .order_by(NewsPost.published_at.desc(), NewsPost.id.desc())
            .limit(limit)
        )
    )


def next_due_at() -> datetime | None:
    """When the next scheduled post comes due (None: none is waiting): pages listing the news
    change by themselves then."""
    return db.session.scalar(
        sa.select(sa.func.min(NewsPost.published_at)).where(
            NewsPost.status == PUBLISHED, NewsPost.published_at > utcnow()
        )
    )


def _published(tag: str | None = None) -> sa.Select[tuple[NewsPost]]:
    """Published, due posts, newest first (optionally of one tag)."""
    query = (
        sa.select(NewsPost)
        .where(NewsPost.visible_clause())
        .order_by(NewsPost.published_at.desc(), NewsPost.id.desc())
    )
    if tag is not None:
        query = query.where(
            NewsPost.id.in_(
                sa.select(news_post_tags.c.news_post_id)
                .join(Tag, Tag.id == news_post_tags.c.tag_id)
                .where(Tag.name == tag)
            )
        )
    return query


def unpublished_posts() -> sa.Select[tuple[NewsPost]]:
    """Drafts and scheduled posts, for the people who write news."""
    return (
        sa.select(NewsPost)
        .where(sa.not_(NewsPost.visible_clause()))
        .options(selectinload(NewsPost.author))
        .order_by(NewsPost.updated_at.desc(), NewsPost.id.desc())
    )


def get_post(slug: str, viewer: Any, *, full: bool = False) -> NewsPost:
    """The post at `slug` if the viewer may see it; PostNotFound otherwise (drafts included)."""
    query = sa.select(NewsPost).where(NewsPost.slug == slug)
    if full:
        query = query.options(
            joinedload(NewsPost.author),
            selectinload(NewsPost.tags),
            selectinload(NewsPost.updates),
            selectinload(NewsPost.petitions),
        )
    post = db.session.scalar(query) if len(slug) <= MAX_SLUG else None
    if post is None or not policies.can_see_news(viewer, post):
        raise PostNotFound()
    return post


def petition_choices(post: NewsPost | None = None) -> list[tuple[int, str]]:
    """Petitions a post may link to: the public ones, and any it already links to."""
    condition = Petition.status.in_(PUBLIC_STATUSES)
    if post is not None and post.id is not None:
        linked = sa.select(news_post_petitions.c.petition_id).where(
            news_post_petitions.c.news_post_id == post.id
        )
        condition = sa.or_(condition, Petition.id.in_(linked))
    rows = db.session.execute(
        sa.select(Petition.id, Petition.title).where(condition).order_by(Petition.title)
    )
    return [(row.id, row.title) for row in rows]


def posts_for_petition(petition: Any, limit: int = 10) -> list[NewsPost]:
    """A petition's published linked posts, newest first."""
    return list(
        db.session.scalars(
            sa.select(NewsPost)
            .join(news_post_petitions, news_post_petitions.c.news_post_id == NewsPost.id)
            .where(news_post_petitions.c.petition_id == petition.id, NewsPost.visible_clause())
            .order_by(NewsPost.published_at.desc(), NewsPost.id.desc())
            .limit(limit)
        )
    )


def signed_petition_ids(viewer: Any, petitions: Sequence[Petition]) -> set[int]:
    """Which of these petitions the viewer has signed (one query; none for visitors)."""
    ids = [p.id for p in petitions]
    return ids_marked(viewer, "signed", signed_mark(), "mark_signed_ids", ids)


@cache
def signed_mark() -> Any:
    """A column for the viewer's users row (see `cache.viewer_marks`): which of the
    petitions `mark_signed_ids` they signed."""
    from fancampaign.petitions.models import Signature

    signatures = Signature.__table__
    return id_mark(signatures.c.petition_id, signatures.c.user_id, "mark_signed_ids")


def latest_posts(limit: int = 5) -> list[NewsPost]:
    """The newest published posts (the home page's lead story and headlines).

    Only what the home page shows: no authors or tags, and the bodies are left in the
    database (they load if something asks for them): one small query.
    """
    query = _published().options(defer(NewsPost.body), defer(NewsPost.body_html))
    return list(db.session.scalars(query.limit(limit)))


def load_posts(ids: Iterable[int]) -> dict[int, NewsPost]:
    """Posts by id (for the forum's discussion cards), only the published ones."""
    ids = list(ids)
    if not ids:
        return {}
    posts = db.session.scalars(
        sa.select(NewsPost).where(NewsPost.id.in_(ids), NewsPost.visible_clause())
    )
    return {post.id: post for post in posts}


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _check_writer(user: Any) -> None:
    if not policies.can_write_news(user):
        raise CannotWriteNews()


def _clean_fields(
    title: str, standfirst: str, body: str, cover_alt: str
) -> tuple[str, str, str, str]:
    title = clean_text(title or "")
    standfirst = clean_text(standfirst or "")
    body = clean_multiline(body or "")
    cover_alt = clean_text(cover_alt or "")
    if not title:
        raise InvalidPost("Enter a title.")
    if len(title) > MAX_TITLE:
        raise InvalidPost(f"The title must be at most {MAX_TITLE} characters.")
    if len(standfirst) > MAX_STANDFIRST:
        raise InvalidPost(f"The standfirst must be at most {MAX_STANDFIRST} characters.")
    if not body:
        raise InvalidPost("Write the body of the post.")
    if len(body) > MAX_BODY:
        raise InvalidPost(f"The body must be at most {MAX_BODY:,} characters.")
    if len(cover_alt) > MAX_ALT:
        raise InvalidPost(f"The image description must be at most {MAX_ALT} characters.")
    return title, standfirst, body, cover_alt


def _publication(
    post: NewsPost | None, publish: str, publish_at: datetime | None
) -> tuple[str, datetime | None]:
    """The (status, published_at) a save asks for."""
    if publish not in PUBLISH_CHOICES:
        raise InvalidPost("Choose whether to save a draft, publish now or schedule the post.")
    now = utcnow()
    if publish == "draft":
        return DRAFT, None
    if publish == "now":
        if post is not None and post.is_published:
            return PUBLISHED, post.published_at  # an edit keeps the original date
        return PUBLISHED, now
    if publish_at is None:
        raise InvalidPost("Choose when to publish the post.")
    if publish_at.tzinfo is None:
        raise InvalidPost("The publication time needs a time zone.")
    if publish_at <= now:
        raise InvalidPost("Choose a publication time in the future, or publish now.")
    return PUBLISHED, publish_at


def _petitions(ids: Iterable[int], allowed_extra: Sequence[int] = ()) -> list[Petition]:
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return []
    rows = list(db.session.scalars(sa.select(Petition).where(Petition.id.in_(wanted))))
    ok = [p for p in rows if p.status in PUBLIC_STATUSES or p.id in allowed_extra]
    if len(ok) != len(wanted):
        raise UnknownPetition()
    return sorted(ok, key=lambda p: p.id)


def _tags(names: Sequence[str]) -> list[Tag]:
    """The Tag rows for normalised names, created as needed (a lost race is retried)."""
    if len(names) > MAX_TAGS:
        raise InvalidPost(f"Use at most {MAX_TAGS} tags.")
    tags: list[Tag] = []
    for name in names:
        tag = db.session.scalar(sa.select(Tag).where(Tag.name == name))
        if tag is None:
            try:
                with db.session.begin_nested():
                    tag = Tag(name=name)
                    db.session.add(tag)
            except IntegrityError:
                tag = db.session.scalar(sa.select(Tag).where(Tag.name == name))
        if tag is not None:
            tags.append(tag)
    return tags


def _base_slug(title: str) -> str:
    base = slugify(title, max_length=MAX_SLUG - 6)
    return f"{base}-post" if base in RESERVED_SLUGS else base


def _insert_with_free_slug(fields: dict[str, Any]) -> NewsPost:
    """Insert a post under the first free slug; a concurrent insert of the same slug retries."""
    base = _base_slug(fields["title"])
    for _attempt in range(SLUG_ATTEMPTS):
        post = NewsPost(slug=unique_slug(NewsPost.slug, base), **fields)
        try:
            with db.session.begin_nested():
                db.session.add(post)
        except IntegrityError:
            continue  # another request took this slug between our read and our insert
        return post
    raise SlugUnavailable()


def _read_cover(cover: IO[bytes] | None) -> images.ProcessedImage | None:
    if cover is None:
        return None
    data = images.read_limited(cover, current_app.config["UPLOAD_MAX_BYTES"])
    if not data:
        return None
    return images.process(data)


def create_post(
    author: Any,
    *,
    title: str,
    body: str,
    standfirst: str = "",
    tags: str | Iterable[str] = (),
    petition_ids: Iterable[int] = (),
    is_developing: bool = False,
    publish: str = "draft",
    publish_at: datetime | None = None,
    cover: IO[bytes] | None = None,
    cover_alt: str = "",
) -> NewsPost:
    """Write a post (organisers and admins: else CannotWriteNews); InvalidPost, InvalidImage,
    UnknownPetition on bad input. Publishing starts its discussion and emails the linked
    petitions' signers who asked to be kept updated."""
    _check_writer(author)
    title, standfirst, body, cover_alt = _clean_fields(title, standfirst, body, cover_alt)
    status, published_at = _publication(None, publish, publish_at)
    petitions = _petitions(petition_ids)
    tag_rows = _tags(normalise_tags(tags))
    image = _read_cover(cover)
    if image is not None and not cover_alt:
        raise InvalidPost("Describe the cover image for people who cannot see it.")
    now = utcnow()
    post = _insert_with_free_slug(
        {
            "title": title,
            "standfirst": standfirst,
            "body": body,
            "body_html": render_markdown(body),
            "reading_minutes": reading_time(body),
            "author_id": author.id,
            "status": status,
            "published_at": published_at,
            "is_developing": bool(is_developing),
            "cover_key": image.key if image else None,
            "cover_widths": ",".join(map(str, image.widths)) if image else "",
            "cover_alt": cover_alt if image else "",
            "created_at": now,
            "updated_at": now,
        }
    )
    post.tags = tag_rows
    post.petitions = petitions
    db.session.flush()
    _after_save(post, new_petitions=petitions)
    if image is not None:
        images.write(image)
    return post


def update_post(
    editor: Any,
    post: NewsPost,
    *,
    title: str,
    body: str,
    standfirst: str = "",
    tags: str | Iterable[str] = (),
    petition_ids: Iterable[int] = (),
    is_developing: bool = False,
    publish: str = "draft",
    publish_at: datetime | None = None,
    cover: IO[bytes] | None = None,
    cover_alt: str = "",
    remove_cover: bool = False,
) -> NewsPost:
    """Edit a post (organisers and admins: else NotAllowed); the slug never changes, so links
    keep working. Same input errors as create_post."""
    if not policies.can_edit_news(editor, post):
        raise NotAllowed("Only organisers and admins edit news.")
    title, standfirst, body, cover_alt = _clean_fields(title, standfirst, body, cover_alt)
    status, published_at = _publication(post, publish, publish_at)
    before = {p.id for p in post.petitions}
    petitions = _petitions(petition_ids, allowed_extra=sorted(before))
    tag_rows = _tags(normalise_tags(tags))
    image = _read_cover(cover)
    if image is not None:
        post.cover_key = image.key
        post.cover_widths = ",".join(map(str, image.widths))
    elif remove_cover:
        post.cover_key = None
        post.cover_widths = ""
    if post.cover_key and not cover_alt:
        raise InvalidPost("Describe the cover image for people who cannot see it.")
    was_public = post.status == PUBLISHED
    post.title = title
    post.standfirst = standfirst
    if body != post.body:
        post.body = body
        post.body_html = render_markdown(body)
        post.reading_minutes = reading_time(body)
    post.cover_alt = cover_alt if post.cover_key else ""
    post.is_developing = bool(is_developing)
    post.status = status
    post.published_at = published_at
    post.tags = tag_rows
    post.petitions = petitions
    post.updated_at = utcnow()
    if was_public and status == DRAFT:
        _withdraw_announcement(post)
    db.session.flush()
    _after_save(post, new_petitions=[p for p in petitions if p.id not in before])
    if image is not None:
        images.write(image)
    return post


def add_update(editor: Any, post: NewsPost, body: str, *, email: bool = False) -> NewsUpdate:
    """Append a dated update to a post (organisers and admins); InvalidPost when empty. It goes
    on the linked petitions' timelines, and with `email` to their signers who asked."""
    if not policies.can_edit_news(editor, post):
        raise NotAllowed("Only organisers and admins add updates.")
    body = clean_multiline(body or "")
    if not body:
        raise InvalidPost("Write the update.")
    if len(body) > MAX_UPDATE:
        raise InvalidPost(f"An update must be at most {MAX_UPDATE:,} characters.")
    now = utcnow()
    update = NewsUpdate(
        news_post_id=post.id,
        author_id=editor.id,
        body=body,
        body_html=render_markdown(body),
        created_at=now,
    )
    db.session.add(update)
    post.updated_at = now
    post.is_developing = True
    db.session.flush()
    from fancampaign.campaign.services import record_story_update

    record_story_update(post, update, email=email)
    return update


# --------------------------------------------------------------------------------------
# Effects of publication: the discussion thread and the "keep me updated" emails
# --------------------------------------------------------------------------------------


def _after_save(post: NewsPost, *, new_petitions: Sequence[Petition]) -> None:
    if post.status != PUBLISHED:
        return
    ensure_discussion(post)
    if post.announced_at is not None:
        _reschedule_announcement(post)
    if post.announced_at is None:
        post.announced_at = utcnow()
        announce(post, post.petitions)
    elif new_petitions:
        announce(post, new_petitions)


def ensure_discussion(post: NewsPost) -> None:
    """Give a published, due post its discussion thread in "News discussion" (once)."""
    if post.thread_id is not None or not post.is_published:
        return
    from fancampaign.forum.discussions import start_discussion

    try:
        start_discussion(
            post,
            kind="news",
            author=post.author,
            title=post.title,
            body=_discussion_body(post),
            category_slug=DISCUSSION_CATEGORY,
        )
    except NotFoundError:
        # No "News discussion" category on this site (yet): the post goes out without
        # comments; the next save (or first view) opens them once the category exists.
        current_app.logger.warning(
            "no %r forum category: %s has no comments", DISCUSSION_CATEGORY, post.slug
        )


def open_due_discussions(limit: int = 50) -> int:
    """Open the comments of scheduled posts that came due (the worker's round; a page view
    never writes). How many were opened."""
    due = db.session.scalars(
        sa.select(NewsPost)
        .where(NewsPost.visible_clause(), NewsPost.thread_id.is_(None))
        .order_by(NewsPost.published_at)
        .limit(limit)
    ).all()
    for post in due:
        ensure_discussion(post)
    return sum(1 for post in due if post.thread_id is not None)


def _discussion_body(post: NewsPost) -> str:
    intro = post.standfirst or post.title
    return f"{intro}\n\n[Read the article: {post.title}](/news/{post.slug})"


def _site_base() -> str:
    from fancampaign.urls import base_url

    return base_url()


def unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="news-unsubscribe")


def unsubscribe_token(signature_id: int) -> str:
    return str(unsubscribe_serializer().dumps(signature_id))


def signature_for_token(token: str) -> Any:
    """The signature an unsubscribe link names; InvalidToken when forged or stale."""
    from fancampaign.petitions.models import Signature

    try:
        signature_id = unsubscribe_serializer().loads(token)
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken() from exc
    if not isinstance(signature_id, int):
        raise InvalidToken()
    signature = db.session.get(Signature, signature_id)
    if signature is None:
        raise InvalidToken()
    return signature


def unsubscribe(token: str) -> Any:
    """Stop the "keep me updated" emails for the signature the link names; InvalidToken."""
    from fancampaign.petitions.models import Signature

    signature = signature_for_token(token)
    db.session.execute(
        sa.update(Signature).where(Signature.id == signature.id).values(keep_updated=False)
    )
    db.session.expire(signature, ["keep_updated"])
    return signature


def announce(post: NewsPost, petitions: Iterable[Petition]) -> int:
    """Put the post on each linked petition's campaign timeline and queue one email per signer
    who asked for updates (campaign mail, one INSERT ... SELECT per petition); returns the
    number queued. A scheduled post's emails wait until its time comes."""
    from fancampaign.campaign.services import record_news

    return record_news(post, list(petitions), post.published_at)


def _reschedule_announcement(post: NewsPost) -> None:
    """A rescheduled post: its timeline entries and waiting update emails follow the new time."""
    from fancampaign.campaign.services import reschedule_news

    reschedule_news(post)


def _withdraw_announcement(post: NewsPost) -> None:
    """A post taken back to draft: off the timelines, its unsent update emails dropped."""
    from fancampaign.campaign.services import withdraw_news

    withdraw_news(post)
    post.announced_at = None


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------


def export_posts(user: Any) -> list[dict[str, Any]]:
    """The news posts a user wrote, for "export my data"."""
    posts = db.session.scalars(
        sa.select(NewsPost).where(NewsPost.author_id == user.id).order_by(NewsPost.id)
    )
    return [
        {
            "slug": post.slug,
            "title": post.title,
            "standfirst": post.standfirst,
            "body": post.body,
            "status": post.state_label.lower(),
            "created_at": post.created_at.isoformat(),
            "published_at": post.published_at.isoformat() if post.published_at else None,
        }
        for post in posts
    ]
