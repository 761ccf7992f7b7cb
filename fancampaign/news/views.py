"""News pages: the list, tags, articles, writing and editing, feeds, unsubscribe links."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from fancampaign import policies, signals
from fancampaign.accounts.marks import id_set
from fancampaign.admin import sitesettings
from fancampaign.caching import EVERY_PAGE
from fancampaign.errors import DomainError, InvalidToken
from fancampaign.extensions import db
from fancampaign.guards import guard
from fancampaign.news import feeds, forms, images, services
from fancampaign.news.models import MAX_TAG, NewsPost
from fancampaign.pagecache import Fill, Page, Viewer, changes_at, each, render_part
from fancampaign.routing import page_arg
from fancampaign.text import quote_markdown
from fancampaign.web import attach_error, base_url, render_form

bp = Blueprint("news", __name__)
news_writer_required = guard(policies.can_write_news)
FEED_SIZE = 20
# Which form field a service refusal is about (the rest go to the top of the form).
ERROR_FIELDS = {
    "InvalidImage": "cover",
    "ImageTooLarge": "cover",
    "UnknownPetition": "petitions",
}


def _page() -> int:
    return page_arg()


def _tag_or_404(tag: str) -> str:
    name = services.normalise_tag(tag) if len(tag) <= MAX_TAG * 2 else ""
    if not name:
        abort(404)
    return name


# Reading ---------------------------------------------------------------------------------


@bp.route("/news")
@Page("news-list", depends=("news", *EVERY_PAGE), args=("tag", "page"))
def index() -> Any:
    changes_at(services.next_due_at())
    tag = request.args.get("tag")
    return _listing(_tag_or_404(tag) if tag is not None else None)


@bp.route("/news/tag/<tag>")
def tag(tag: str) -> Any:
    name = _tag_or_404(tag)
    if name != tag:
        return redirect(url_for("news.tag", tag=name), 301)
    return _listing(name)


def _listing(tag: str | None) -> Any:
    posts = db.paginate(
        services.visible_posts(tag),
        page=_page(),
        per_page=current_app.config["PER_PAGE"],
        error_out=False,
    )
    unpublished: list[NewsPost] = []
    if tag is None and policies.can_write_news(current_user):
        unpublished = list(db.session.scalars(services.unpublished_posts().limit(20)))
    return render_template("news/index.html", posts=posts, tag=tag, unpublished=unpublished)


def _marks(meta: dict[str, Any]) -> dict[str, Any]:
    """What a member's version of an article asks about them: their likes among its comments
    and which of its linked petitions they signed."""
    from fancampaign.forum.views import post_marks

    return {
        **post_marks(meta),
        "signed": (services.signed_mark(), {"mark_signed_ids": meta["petitions"]}),
    }


def _fills(viewer: Viewer, meta: dict[str, Any]) -> dict[str, Fill] | None:
    """A member's version of an article rendered for every member: their likes and their
    own comments (as on a thread page), and the linked petitions they signed."""
    from fancampaign.forum.views import personal_posts

    fills = personal_posts(viewer, meta)
    if fills is None:
        return None
    signed = id_set(viewer.marks["signed"])
    if signed:
        note = render_part("news/_petition_signed.html")
        fills["signed"] = each(lambda petition_id, box: note if int(petition_id) in signed else box)
    return fills


# An article: its comments may lag a few seconds behind the forum (a reply anywhere must not
# re-render every article), its linked petitions' counts too.
article_page = Page(
    "article",
    depends=("news", "petitions", *EVERY_PAGE),
    lagging=("forum", "signatures"),
    args=("page",),
    marks=_marks,
    fills=_fills,
)


@bp.route("/news/<slug>")
@article_page
def show(slug: str) -> Any:
    post = services.get_post(slug, current_user, full=True)
    thread = comments = None
    liked: set[int] = set()
    if post.thread_id is not None:
        from fancampaign.forum.discussions import comments_page
        from fancampaign.forum.models import Thread
        from fancampaign.forum.services import liked_ids

        thread = db.session.get(Thread, post.thread_id)
        if thread is not None:
            comments = comments_page(thread, current_user, _page())
            liked = liked_ids(current_user, comments.items)
    from fancampaign.forum.views import note_posts

    note_posts(thread, comments.items if comments else [], petitions=[p.id for p in post.petitions])
    update_form = forms.NewsUpdateForm() if policies.can_edit_news(current_user, post) else None
    return render_template(
        "news/show.html",
        post=post,
        thread=thread,
        comments=comments,
        liked=liked,
        signed_ids=services.signed_petition_ids(current_user, post.petitions),
        update_form=update_form,
        quote_markdown=quote_markdown,
    )


# Writing ---------------------------------------------------------------------------------


def _post_form(post: NewsPost | None = None) -> forms.NewsPostForm:
    form = forms.NewsPostForm(obj=post) if post is not None else forms.NewsPostForm()
    form.petitions.choices = [
        SelectChoice(pid, title) for pid, title in services.petition_choices(post)
    ]
    if post is not None and request.method == "GET":
        form.tags.data = ", ".join(post.tag_names)
        form.petitions.data = [p.id for p in post.petitions]
        if post.is_draft:
            form.publish.data = "draft"
        elif post.is_scheduled:
            form.publish.data = "schedule"
            form.publish_at.data = post.published_at.replace(tzinfo=None)  # type: ignore[union-attr]
        else:
            form.publish.data = "now"
    return form


def _fields(form: forms.NewsPostForm) -> dict[str, Any]:
    publish_at = form.publish_at.data
    if publish_at is not None:
        from datetime import UTC

        publish_at = publish_at.replace(tzinfo=UTC)
    cover = form.cover.data
    return {
        "title": form.title.data or "",
        "standfirst": form.standfirst.data or "",
        "body": form.body.data or "",
        "tags": form.tags.data or "",
        "petition_ids": form.petitions.data or [],
        "is_developing": form.is_developing.data,
        "publish": form.publish.data,
        "publish_at": publish_at if form.publish.data == "schedule" else None,
        "cover": cover.stream if cover and getattr(cover, "filename", "") else None,
        "cover_alt": form.cover_alt.data or "",
    }


def _saved_message(post: NewsPost) -> str:
    if post.is_draft:
        return "Draft saved."
    if post.is_scheduled:
        when = f"{post.published_at:%-d %B %Y %H:%M} UTC"
        if post.petitions:
            return f"Scheduled for {when}. Update emails to the signers go out then."
        return f"Scheduled for {when}."
    if post.petitions:
        return "Published. Update emails to the signers are on their way."
    return "Published."


@bp.route("/news/new", methods=["GET", "POST"])
@news_writer_required
def new() -> Any:
    form = _post_form()
    if form.validate_on_submit():
        try:
            post = services.create_post(current_user, **_fields(form))
        except DomainError as err:
            attach_error(form, err, ERROR_FIELDS.get(type(err).__name__))
        else:
            db.session.commit()
            flash(_saved_message(post), "success")
            return redirect(url_for("news.show", slug=post.slug))
    return render_form("news/form.html", form=form, post=None)


@bp.route("/news/<slug>/edit", methods=["GET", "POST"])
@news_writer_required
def edit(slug: str) -> Any:
    post = services.get_post(slug, current_user, full=True)
    if not policies.can_edit_news(current_user, post):
        abort(403)
    form = _post_form(post)
    if form.validate_on_submit():
        try:
            services.update_post(
                current_user, post, remove_cover=form.remove_cover.data, **_fields(form)
            )
        except DomainError as err:
            attach_error(form, err, ERROR_FIELDS.get(type(err).__name__))
        else:
            db.session.commit()
            flash(_saved_message(post), "success")
            return redirect(url_for("news.show", slug=post.slug))
    return render_form("news/form.html", form=form, post=post)


@bp.route("/news/<slug>/updates", methods=["POST"])
@news_writer_required
def add_update(slug: str) -> Any:
    post = services.get_post(slug, current_user, full=True)
    if not policies.can_edit_news(current_user, post):
        abort(403)
    form = forms.NewsUpdateForm()
    if form.validate_on_submit():
        try:
            services.add_update(
                current_user, post, form.update.data or "", email=form.email_update.data
            )
        except DomainError as err:
            attach_error(form, err, "update")
        else:
            db.session.commit()
            flash("Update added.", "success")
            return redirect(url_for("news.show", slug=post.slug) + "#updates")
    return render_form(
        "news/show.html",
        post=post,
        thread=None,
        comments=None,
        liked=set(),
        signed_ids=set(),
        update_form=form,
    )


# Feeds -----------------------------------------------------------------------------------


def _feed(tag: str | None) -> Response:
    posts = list(db.session.scalars(services.visible_posts(tag).limit(FEED_SIZE)))
    base = base_url()
    site = sitesettings.current().name
    if tag is None:
        self_url = base + url_for("news.feed")
        alternate = base + url_for("news.index")
        title = f"{site}: news"
    else:
        self_url = base + url_for("news.tag_feed", tag=tag)
        alternate = base + url_for("news.tag", tag=tag)
        title = f"{site}: news tagged {tag}"
    body = feeds.build_feed(
        posts,
        base=base,
        title=title,
        self_url=self_url,
        alternate_url=alternate,
        feed_key=f"tag:{tag}" if tag else "news",
        site_name=site,
    )
    response = Response(body, mimetype="application/atom+xml")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/news/feed.atom")
def feed() -> Response:
    return _feed(None)


@bp.route("/news/tag/<tag>/feed.atom")
def tag_feed(tag: str) -> Any:
    name = _tag_or_404(tag)
    if name != tag:
        return redirect(url_for("news.tag_feed", tag=name), 301)
    return _feed(name)


# Unsubscribe -----------------------------------------------------------------------------


@bp.route("/news/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Any:
    form = forms.UnsubscribeForm()
    try:
        signature = services.signature_for_token(token)
    except InvalidToken as err:
        return render_template("news/unsubscribe.html", invalid=err.message, form=form), 400
    petition = _petition_of(signature)
    if form.validate_on_submit():
        services.unsubscribe(token)
        db.session.commit()
        return render_template("news/unsubscribe.html", done=True, petition=petition, form=form)
    return render_form("news/unsubscribe.html", form=form, petition=petition, done=False)


def _petition_of(signature: Any) -> Any:
    from fancampaign.petitions.models import Petition

    return db.session.get(Petition, signature.petition_id)


# Helpers for the templates and the other areas ------------------------------------------


@bp.app_template_global()
def cover_srcset(post: NewsPost) -> str:
    """The `srcset` of a post's cover image."""
    if not post.cover_key:
        return ""
    return ", ".join(
        f"{url_for('main.upload', filename=images.filename(post.cover_key, w))} {w}w"
        for w in post.widths
    )


@bp.app_template_global()
def cover_src(post: NewsPost, width: int = 960) -> str:
    """The URL of the cover variant closest to `width` (the `src` fallback)."""
    if not post.cover_key or not post.widths:
        return ""
    best = min(post.widths, key=lambda w: abs(w - width))
    return url_for("main.upload", filename=images.filename(post.cover_key, best))


@bp.app_template_global()
def petition_news(petition: Any, limit: int = 10) -> list[NewsPost]:
    """A petition's published linked posts (for templates/news/_petition_updates.html)."""
    return services.posts_for_petition(petition, limit)


@signals.home_sections.connect
def _home(_app: Any, **_kw: Any) -> tuple[int, str, dict[str, Any]] | None:
    posts = services.latest_posts(5)
    if not posts:
        return None
    return 10, "news/_home_section.html", {"lead": posts[0], "headlines": posts[1:]}


@signals.sitemap_entries.connect
def _sitemap(_app: Any, limit: int = 5000, **_kw: Any) -> list[tuple[str, Any]]:
    return [("/news", None), *((f"/news/{slug}", at) for slug, at in services.sitemap(limit))]


@signals.account_exporting.connect
def _export(user: Any, **_kw: Any) -> tuple[str, Any]:
    return "news_posts", services.export_posts(user)


def _register_with_forum() -> None:
    from fancampaign.forum.discussions import register_subject

    register_subject("news", services.load_posts, "news/_card.html")


_register_with_forum()
