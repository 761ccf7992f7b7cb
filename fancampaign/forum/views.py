"""Forum pages: categories, threads, replies, edits, deletions, likes; category admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm

from fancampaign import policies, signals
from fancampaign.accounts.marks import id_set
from fancampaign.admin import services as admin_services
from fancampaign.admin import sitesettings
from fancampaign.caching import EVERY_PAGE
from fancampaign.errors import DomainError, error_response
from fancampaign.extensions import db, limiter, utcnow
from fancampaign.forum import discussions, forms, hooks, services, tracking  # noqa: F401
from fancampaign.forum.models import LEVELS, Category, Post, Thread
from fancampaign.guards import _to_login, admin_required, login_required, moderator_required
from fancampaign.pagecache import Fill, Page, Viewer, each, page_meta, render_part
from fancampaign.routing import id_arg, page_arg, parse_id
from fancampaign.text import quote_markdown
from fancampaign.web import attach_error, render_form, safe_next

bp = Blueprint("forum", __name__)

HELD_MESSAGE = "Thanks. Your post will appear once a moderator has reviewed it."
TOO_FAST_MESSAGE = (
    "You are posting too fast. Your text is kept as a draft: wait a minute and post it again."
)


# Rate limits: per user id, on POST only, for new accounts (staff and older accounts exempt).


def _user_key() -> str:
    return f"user:{current_user.get_id()}" if current_user.is_authenticated else "visitor"


def _not_new_account() -> bool:
    if not current_user.is_authenticated:
        return True  # visitors are sent to log in
    if policies.is_organiser(current_user):
        return True
    age: timedelta = current_app.config["NEW_ACCOUNT_AGE"]
    return current_user.created_at <= utcnow() - age


def _limit(name: str) -> Any:
    return limiter.limit(
        lambda: sitesettings.value(name),
        key_func=_user_key,
        methods=["POST"],
        exempt_when=_not_new_account,
    )


def _page_arg() -> int:
    return page_arg()


def _helper_limit(limit: str) -> Any:
    """The writing helpers (preview, drafts, mention suggestions): per member, every request."""
    return limiter.limit(limit, key_func=_user_key)


def _keep_draft(form: Any, **place: Any) -> None:
    """Keep the text of a refused post as the member's draft (it comes back when they do)."""
    if not policies.can_keep_drafts(current_user):
        return
    title = form.title.data if "title" in form._fields else ""
    try:
        services.save_draft(current_user, body=form.body.data or "", title=title or "", **place)
    except DomainError:
        db.session.rollback()
        return
    db.session.commit()


def _restore_draft(form: Any, **place: Any) -> None:
    """An empty form gets the member's draft for this place back."""
    if form.body.data or not policies.can_keep_drafts(current_user):
        return
    draft = services.draft_for(current_user, **place)
    if draft is not None:
        form.body.data = draft.body
        if "title" in form._fields and not form.title.data:
            form.title.data = draft.title


def _preview_of(form: Any) -> str | None:
    """The form's body rendered, when its Preview button was pressed (errors go on the form)."""
    if not form.preview.data:
        return None
    try:
        return services.preview(current_user, form.body.data)
    except DomainError as err:
        attach_error(form, err, "body")
        return None


def _post_location(post: Post) -> str:
    page = services.page_of(post, current_user)
    return url_for(
        "forum.thread",
        thread_id=post.thread_id,
        slug=post.thread.slug or None,
        page=page if page > 1 else None,
        _anchor=f"post-{post.id}",
    )


# Reading ----------------------------------------------------------------------------------


def personal_index(viewer: Viewer, meta: dict[str, Any]) -> dict[str, Fill]:
    """A member's forum index: per category, how many threads are unread or new (one query)."""
    counts = tracking.category_counts(viewer.user, meta["categories"])
    return {"category_unread": each(lambda arg, _html: category_marker(counts.get(int(arg))))}


def category_marker(counts: tuple[int, int] | None) -> str:
    """A category's "N unread · N new" marker on the forum index, for its viewer."""
    if not counts or not any(counts):
        return ""
    return render_part("forum/_category_marker.html", unread=counts[0], new=counts[1])


@bp.route("/forum")
@Page("forum", depends=("forum", *EVERY_PAGE), fills=personal_index)
def index() -> Any:
    categories = services.categories()
    ids = [c.id for c in categories]
    latest = services.latest_threads(ids)
    page_meta(categories=ids)
    return render_template(
        "forum/index.html",
        categories=categories,
        latest=latest,
        counts=tracking.category_counts(current_user, ids),
        category_marker=category_marker,
    )


def category_marks(meta: dict[str, Any]) -> dict[str, Any]:
    """What a member's category page asks with their login: their level for the category
    and their own rows for its threads (reading positions, levels)."""
    return {
        "category_level": (tracking.category_mark(), {"mark_category_id": meta["category"]}),
        "threads": (tracking.threads_mark(), {"mark_thread_ids": meta["threads"]}),
    }


def personal_category(viewer: Viewer, meta: dict[str, Any]) -> dict[str, Fill] | None:
    """A member's version of a category page rendered for every member: their unread markers
    and their level for the category, all read with the login."""
    if "started" not in meta:
        return None  # stored before the page said when its threads were started
    started = {int(tid): (created, author) for tid, created, author in meta["started"]}
    level = viewer.marks["category_level"] or "normal"
    states = tracking.states_from_mark(viewer.marks["threads"], viewer.user.id, level, started)
    return {
        "unread": each(lambda arg, _html: unread_marker(int(arg), states.get(int(arg)))),
        "watch": each(
            lambda arg, _html: render_part(
                "forum/_watch_control.html", kind="category", target=arg, level=level
            )
        ),
    }


def unread_marker(thread_id: int, state: tracking.ThreadState | None) -> str:
    """The "new" / "N unread" marker of a thread in a list, for its viewer."""
    if state is None or not (state.unread or state.is_new):
        return ""
    return render_part(
        "forum/_unread_marker.html", thread_id=thread_id, unread=state.unread, is_new=state.is_new
    )


@bp.route("/forum/<slug>")
@Page(
    "category",
    depends=("forum", *EVERY_PAGE),
    args=("page",),
    marks=category_marks,
    fills=personal_category,
)
def category(slug: str) -> Any:
    category = services.get_category(slug)
    threads = services.threads_page(category, current_user, _page_arg())
    ids = [t.id for t in threads.items]
    started = [[t.id, t.created_at.timestamp(), t.author_id] for t in threads.items]
    page_meta(threads=ids, category=category.id, started=started)
    return render_template(
        "forum/category.html",
        category=category,
        threads=threads,
        states=tracking.thread_states(current_user, ids),
        level=tracking.category_level(current_user, category),
        unread_marker=unread_marker,
    )


def _render_thread(thread: Thread, form: Any, status: int = 200, preview: str | None = None) -> Any:
    total = None
    if request.args.get("page") == "last":
        # One count gives both the last page's number and the pagination's total.
        total = services.visible_count(thread, current_user)
        page = max(1, -(-total // services.PER_PAGE))
    else:
        page = _page_arg()
    posts = services.posts_page(thread, current_user, page, total=total)
    subject = discussions.load_subject(thread)
    note_posts(thread, posts.items, thread_id=thread.id)
    return render_form(
        "forum/thread.html",
        status=status,
        thread=thread,
        category=thread.category,
        posts=posts,
        state=tracking.thread_states(current_user, [thread.id]).get(thread.id),
        liked=services.liked_ids(current_user, posts.items),
        bookmarked=services.bookmarked_ids(current_user, [p.id for p in posts.items]),
        replying_to=services.answered_post(current_user, thread, parse_id(form.reply_to.data)),
        preview=preview,
        subject=subject,
        form=form,
        quote_markdown=quote_markdown,
        # For the moderators' "move" tool (else its template loads them itself).
        categories=services.categories() if policies.can_moderate(current_user) else None,
    )


def note_posts(thread: Thread | None, posts: list[Post], **more: Any) -> None:
    """What a member's personal version of a page of these posts needs (`personal_posts`),
    and `more` for the page's own hook."""
    authors = {p.author_id for p in posts if p.author_id is not None}
    # The author of a hidden post quoted here reads it there: a page of their own.
    authors.update(a for p in posts for a in p.unreadable_quote_authors)
    if thread is not None and thread.author_id is not None:
        authors.add(thread.author_id)
    page_meta(
        posts=[p.id for p in posts],
        authors=sorted(authors),
        thread=thread.id if thread is not None else None,
        **more,
    )


def post_marks(meta: dict[str, Any]) -> dict[str, Any]:
    """What a member's version of a page of posts asks about them: their likes and bookmarks
    among them, and whether they have a draft reply to the thread."""
    marks = {
        "liked": (services.liked_mark(), {"mark_liked_ids": meta["posts"]}),
        "bookmarked": (services.bookmark_mark(), {"mark_bookmarked_ids": meta["posts"]}),
    }
    if meta.get("thread"):
        marks["drafted"] = (services.draft_mark(), {"mark_draft_threads": [meta["thread"]]})
    return marks


_PLACE = "98765432109876543210"  # stands for a post id in html made once per app


def _bookmark_controls() -> dict[bool, str]:
    """The Bookmark button in each state, with `_PLACE` where the post's id goes: made once
    per app (a page of posts fills one for each post on every member's request)."""
    made = current_app.extensions.get("fancampaign_bookmark_controls")
    if made is None:
        action = url_for("forum.bookmark", post_id=int(_PLACE))
        made = current_app.extensions["fancampaign_bookmark_controls"] = {
            marked: render_part("forum/_bookmark.html", action=action, marked=marked)
            for marked in (False, True)
        }
    return made  # type: ignore[no-any-return]


def personal_posts(viewer: Viewer, meta: dict[str, Any]) -> dict[str, Fill] | None:
    """A member's version of a page of posts rendered for every member: their likes and
    bookmarks; their own posts (Edit and Delete instead of Like and Report) and their draft
    in the reply box need a page of their own."""
    if viewer.user.id in meta["authors"] or id_set(viewer.marks.get("drafted")):
        return None
    liked = id_set(viewer.marks["liked"])
    bookmarked = id_set(viewer.marks.get("bookmarked"))

    def like(args: dict[str, str]) -> dict[str, str]:
        words = {
            state: render_part("forum/_like_word.html", liked=state) for state in (False, True)
        }
        return {arg: words[int(arg) in liked] for arg in args}

    def bookmark(args: dict[str, str]) -> dict[str, str]:
        controls = _bookmark_controls()
        return {arg: controls[int(arg) in bookmarked].replace(_PLACE, arg) for arg in args}

    return {"like": like, "bookmark": bookmark}


def thread_marks(meta: dict[str, Any]) -> dict[str, Any]:
    """What a member's thread page asks with their login: `post_marks`, and their state for
    the thread (level, reading position, unread count)."""
    return {
        **post_marks(meta),
        "follow": (tracking.thread_mark(), {"mark_thread_id": meta["thread_id"]}),
    }


def personal_thread(viewer: Viewer, meta: dict[str, Any]) -> dict[str, Fill] | None:
    """A member's thread page: `personal_posts`, and their level for the thread and how many
    posts are unread for them (`thread_marks`, read with the login)."""
    fills = personal_posts(viewer, meta)
    if fills is None:
        return None
    state = tracking.parse_thread_mark(viewer.marks["follow"])
    fills["watch"] = each(lambda arg, _html: watch_control("thread", arg, state))
    fills["jump"] = each(lambda arg, _html: jump_link(int(arg), state))
    return fills


def watch_control(kind: str, target: Any, state: tracking.ThreadState | None) -> str:
    """The viewer's level for a thread (or category), as a small form to change it."""
    level = state.level if state is not None else "normal"
    return render_part("forum/_watch_control.html", kind=kind, target=str(target), level=level)


def jump_link(thread_id: int, state: tracking.ThreadState | None) -> str:
    """ "Jump to the first unread post" when the viewer has unread posts in the thread."""
    if state is None or not state.unread:
        return ""
    return render_part("forum/_jump_unread.html", thread_id=thread_id, unread=state.unread)


# A thread: the petition or article it discusses shows its count, which may lag a few seconds.
thread_page = Page(
    "thread",
    depends=("forum", "petitions", "news", *EVERY_PAGE),
    lagging=("signatures",),
    args=("page", "quote", "reply_to"),
    marks=thread_marks,
    fills=personal_thread,
)


@bp.route("/forum/t/<int:thread_id>")
@bp.route("/forum/t/<int:thread_id>/<slug>")
@thread_page
def thread(thread_id: int, slug: str | None = None) -> Any:
    thread = services.get_thread(thread_id, current_user)
    if slug is not None and thread.slug and slug != thread.slug:
        # An old or mistyped slug: one canonical address per thread.
        args = request.args.to_dict()
        return redirect(url_for("forum.thread", thread_id=thread.id, slug=thread.slug, **args), 301)
    form = forms.ReplyForm()
    quote_id = id_arg("quote")
    if quote_id and policies.can_reply(current_user, thread):
        try:
            quoted = services.get_post(quote_id, current_user)
        except DomainError:
            quoted = None
        if quoted is not None and quoted.thread_id == thread.id and quoted.is_visible:
            form.body.data = quote_markdown(
                quoted.author.username if quoted.author else "", quoted.body, quoted.id
            )
    form.reply_to.data = id_arg("reply_to") or id_arg("quote") or ""
    _restore_draft(form, thread=thread)
    return _render_thread(thread, form)


@bp.route("/forum/p/<int:post_id>")
def post(post_id: int) -> Any:
    return redirect(_post_location(services.get_post(post_id, current_user)))


@bp.route("/forum/t/<int:thread_id>/unread")
def first_unread(thread_id: int) -> Any:
    """Where the viewer left off: their first unread post, else the thread's latest."""
    thread = services.get_thread(thread_id, current_user)
    post = tracking.first_unread(current_user, thread)
    if post is not None:
        return redirect(_post_location(post))
    return redirect(
        url_for(
            "forum.thread",
            thread_id=thread.id,
            slug=thread.slug or None,
            page="last",
            _anchor="latest",
        )
    )


# A transparent 1x1 GIF: what the no-JS reading pixel answers.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


@bp.route("/forum/t/<int:thread_id>/read", methods=["GET", "POST"])
def read(thread_id: int) -> Any:
    """Record how far the member has read: a POST from the page's script once posts were on
    screen (sendBeacon), or, without JS, the page's <noscript> pixel (a GET) for its last post.
    Only the reading position (thread_reads) is written: no content table, no cached page."""
    thread = services.get_thread(thread_id, current_user)
    if not policies.can_watch(current_user, thread):
        return ("", 204) if request.method == "POST" else Response(PIXEL, mimetype="image/gif")
    if request.method == "POST" and not FlaskForm().validate_on_submit():
        abort(400)
    upto = id_arg("upto") if request.method == "GET" else request.form.get("upto", "")
    tracking.record_read(current_user, thread, int(upto) if str(upto).isdigit() else 0)
    db.session.commit()
    if request.method == "POST":
        return "", 204
    response = Response(PIXEL, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/forum/t/<int:thread_id>/watch", methods=["POST"])
def watch_thread(thread_id: int) -> Any:
    thread = services.get_thread(thread_id, current_user)
    if not current_user.is_authenticated:
        return _to_login()
    return _set_level(
        lambda level: tracking.set_thread_level(current_user, thread, level),
        services.thread_url(thread),
    )


@bp.route("/forum/<slug>/watch", methods=["POST"])
def watch_category(slug: str) -> Any:
    category = services.get_category(slug)
    if not current_user.is_authenticated:
        return _to_login()
    return _set_level(
        lambda level: tracking.set_category_level(current_user, category, level),
        url_for("forum.category", slug=category.slug),
    )


LEVEL_DONE = {
    "watching": "You are watching this: you will be told of every new post.",
    "tracking": "You are tracking this: unread posts are counted for you.",
    "normal": "You will be told only when someone mentions you or replies to you.",
    "muted": "Muted: you will hear nothing more about this.",
}


def _set_level(act: Any, back: str) -> Any:
    if not FlaskForm().validate_on_submit():
        abort(400)
    level = request.form.get("level", "")
    if level not in LEVELS:
        abort(400, "Choose watching, tracking, normal or muted.")
    act(level)
    db.session.commit()
    flash(LEVEL_DONE[level], "success")
    return redirect(back)


# Writing ----------------------------------------------------------------------------------


@bp.route("/forum/<slug>/new", methods=["GET", "POST"])
@_limit("RATELIMIT_THREADS")
def new_thread(slug: str) -> Any:
    category = services.get_category(slug)
    if not current_user.is_authenticated:
        return _to_login()
    if not policies.can_start_thread(current_user, category):
        abort(
            403,
            policies.participation_problem(current_user)
            or "Only organisers can start threads here.",
        )
    form = forms.ThreadForm()
    if not form.is_submitted():
        _restore_draft(form, category=category)
    elif not form.validate_on_submit() or form.preview.data:
        preview = _preview_of(form) if not form.errors else None
        _keep_draft(form, category=category)
        return render_form("forum/new_thread.html", form=form, category=category, preview=preview)
    else:
        try:
            thread = services.create_thread(current_user, category, form.title.data, form.body.data)
        except DomainError as err:
            attach_error(form, err, "title" if "title" in err.message.lower() else "body")
            _keep_draft(form, category=category)
            return render_form(
                "forum/new_thread.html", status=err.status_code, form=form, category=category
            )
        db.session.commit()
        if thread.is_hidden:
            flash(HELD_MESSAGE, "info")
        else:
            flash("Your thread is started.", "success")
        return redirect(services.thread_url(thread))
    return render_form("forum/new_thread.html", form=form, category=category)


@bp.route("/forum/t/<int:thread_id>/reply", methods=["POST"])
@_limit("RATELIMIT_POSTS")
def reply(thread_id: int) -> Any:
    thread = services.get_thread(thread_id, current_user)
    if not current_user.is_authenticated:
        return _to_login()
    form = forms.ReplyForm()
    if not form.validate_on_submit() or form.preview.data:
        preview = _preview_of(form) if not form.errors else None
        _keep_draft(form, thread=thread)
        return _render_thread(thread, form, preview=preview)
    try:
        post = services.reply(
            current_user, thread, form.body.data, reply_to=parse_id(form.reply_to.data)
        )
    except DomainError as err:
        attach_error(form, err, "body")
        _keep_draft(form, thread=thread)
        return _render_thread(thread, form, status=err.status_code)
    db.session.commit()
    if post.is_hidden:
        flash(HELD_MESSAGE, "info")
    else:
        # Under an article or a petition the thread is its comments: say so in those words.
        flash(
            "Your comment is posted." if thread.subject_kind else "Your reply is posted.", "success"
        )
    fallback = _post_location(post)
    target = safe_next(form.next.data, fallback)
    if target != fallback and "#" not in target:
        target = f"{target}#post-{post.id}"
    return redirect(target)


@bp.route("/forum/p/<int:post_id>/edit", methods=["GET", "POST"])
def edit_post(post_id: int) -> Any:
    post = services.get_post(post_id, current_user)
    if not current_user.is_authenticated:
        return _to_login()
    if not policies.can_edit_post(current_user, post):
        abort(403)
    form = forms.EditPostForm(data={"body": post.body, "title": post.thread.title})
    if form.is_submitted() and form.preview.data:
        preview = _preview_of(form) if form.validate() else None
        return render_form("forum/edit_post.html", form=form, post=post, preview=preview)
    if form.validate_on_submit():
        try:
            services.edit_post(
                current_user,
                post,
                form.body.data,
                title=form.title.data if post.is_first else None,
            )
        except DomainError as err:
            field = "title" if "title" in err.message.lower() else "body"
            attach_error(form, err, field)
            return render_form("forum/edit_post.html", status=err.status_code, form=form, post=post)
        db.session.commit()
        flash(HELD_MESSAGE if post.is_held else "Your changes are saved.", "success")
        return redirect(_post_location(post))
    return render_form("forum/edit_post.html", form=form, post=post)


@bp.route("/forum/p/<int:post_id>/delete", methods=["POST"])
def delete_post(post_id: int) -> Any:
    post = services.get_post(post_id, current_user)
    if not current_user.is_authenticated:
        return _to_login()
    if not FlaskForm().validate_on_submit():
        abort(400)
    services.delete_post(current_user, post)
    db.session.commit()
    flash("The post is deleted.", "success")
    return redirect(_post_location(post))


@bp.route("/forum/p/<int:post_id>/like", methods=["POST"])
def like(post_id: int) -> Any:
    return _toggle(
        post_id, services.toggle_like, "You like this post.", "You no longer like this post."
    )


@bp.route("/forum/p/<int:post_id>/bookmark", methods=["POST"])
def bookmark(post_id: int) -> Any:
    return _toggle(
        post_id, services.toggle_bookmark, "The post is bookmarked.", "The bookmark is removed."
    )


def _toggle(post_id: int, toggle: Any, on: str, off: str) -> Any:
    """A member's on/off mark on a post (like, bookmark), back where they pressed it."""
    post = services.get_post(post_id, current_user)
    if not current_user.is_authenticated:
        return _to_login()
    if not FlaskForm().validate_on_submit():
        abort(400)
    now_on = toggle(current_user, post)
    db.session.commit()
    flash(on if now_on else off, "success")
    return redirect(safe_next(request.form.get("next"), _post_location(post)))


@bp.route("/bookmarks")
@login_required
def bookmarks() -> Any:
    marks = services.bookmarks_page(current_user, _page_arg())
    return render_template("forum/bookmarks.html", bookmarks=marks)


# Writing helpers: server-rendered preview, drafts, mention suggestions (for static/js) ------


def _json_error(status: int, detail: str) -> Any:
    return jsonify(error={"status": status, "detail": detail}), status


@bp.route("/forum/preview", methods=["POST"])
@_helper_limit("30/minute")
def preview() -> Any:
    if not policies.can_preview(current_user):
        return _json_error(403, "Log in to preview your post.")
    try:
        html = services.preview(current_user, request.form.get("body", ""))
    except DomainError as err:
        return _json_error(err.status_code, err.message)
    return jsonify(html=html)


@bp.route("/forum/drafts", methods=["POST"])
@_helper_limit("20/minute")
def save_draft() -> Any:
    if not policies.can_keep_drafts(current_user):
        return _json_error(403, "Log in to keep drafts.")
    thread_id = parse_id(request.form.get("thread"))
    if thread_id is not None:
        place: dict[str, Any] = {"thread": services.get_thread(thread_id, current_user)}
    else:
        place = {"category": services.get_category(request.form.get("category") or "")}
    services.save_draft(
        current_user,
        body=request.form.get("body", ""),
        title=request.form.get("title", ""),
        **place,
    )
    db.session.commit()
    return "", 204


@bp.route("/forum/mentions")
@_helper_limit("60/minute")
def mentions() -> Any:
    if not policies.can_look_up_members(current_user):
        return _json_error(403, "Log in to look up members.")
    users = services.mention_suggestions(request.args.get("q", ""))
    response = jsonify(users=[{"username": u.username, "name": u.name} for u in users])
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.errorhandler(429)
def too_fast(err: Any) -> Any:
    """A refused reply or thread comes back as its form, the text in it and kept as a draft;
    any other limit gets the site's "too many requests" answer."""
    if not current_user.is_authenticated or request.endpoint not in (
        "forum.reply",
        "forum.new_thread",
    ):
        return error_response(429)
    args = request.view_args or {}
    if request.endpoint == "forum.reply":
        thread = services.get_thread(args["thread_id"], current_user)
        form: Any = forms.ReplyForm()
        _keep_draft(form, thread=thread)
        form.form_errors.append(TOO_FAST_MESSAGE)
        return _render_thread(thread, form, status=429)
    category = services.get_category(args["slug"])
    form = forms.ThreadForm()
    _keep_draft(form, category=category)
    form.form_errors.append(TOO_FAST_MESSAGE)
    return render_form("forum/new_thread.html", status=429, form=form, category=category)


@bp.route("/forum/p/<int:post_id>/revisions")
@moderator_required
def revisions(post_id: int) -> Any:
    post = services.get_post(post_id, current_user)
    return render_template("forum/revisions.html", post=post, revisions=services.revisions(post))


# Categories (admins) ----------------------------------------------------------------------


def _save_category(form: forms.CategoryForm, category: Category | None, done: str) -> Any:
    """Save a posted category form (category None adds one): the redirect once saved, else None
    (show the form again, with the error attached)."""
    if not form.validate_on_submit():
        return None
    try:
        admin_services.save_category(
            current_user,
            category,
            name=form.name.data,
            slug=form.slug.data or "",
            description=form.description.data or "",
            position=form.position.data,
            is_staff_only=form.is_staff_only.data,
        )
    except DomainError as err:
        attach_error(form, err, "slug" if "address" in err.message else "name")
        return None
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("forum.categories"))


# Managed from the admin console (/admin); the forum's old address leads there.
@bp.route("/forum/categories")
def old_categories() -> Any:
    return redirect(url_for("forum.categories"), 301)


@bp.route("/admin/categories", methods=["GET", "POST"])
@admin_required
def categories() -> Any:
    form = forms.CategoryForm()
    saved = _save_category(form, None, "The category is added.")
    if saved is not None:
        return saved
    return render_form("forum/categories.html", form=form, categories=services.categories())


@bp.route("/admin/categories/<int:category_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_category(category_id: int) -> Any:
    category = db.get_or_404(Category, category_id)
    form = forms.CategoryForm(obj=category)
    saved = _save_category(form, category, "The category is saved.")
    if saved is not None:
        return saved
    return render_form("forum/category_form.html", form=form, category=category)


@bp.route("/admin/categories/<int:category_id>/move", methods=["POST"])
@admin_required
def move_category(category_id: int) -> Any:
    category = db.get_or_404(Category, category_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    admin_services.shift_category(
        current_user, category, -1 if request.form.get("direction") == "up" else 1
    )
    db.session.commit()
    return redirect(url_for("forum.categories"))


# What the forum adds to other pages ---------------------------------------------------------


@signals.home_sections.connect
def _home_section(_sender: Any) -> tuple[int, str, dict[str, Any]]:
    return 30, "forum/_home.html", {"threads": services.lively_threads(5)}


@signals.sitemap_entries.connect
def _sitemap(_sender: Any, limit: int = 30000, **_kw: Any) -> list[tuple[str, Any]]:
    return [("/forum", None), *services.sitemap(limit)]


@signals.profile_sections.connect
def _profile_section(user: Any, viewer: Any = None, **_kw: Any) -> tuple[int, str, dict[str, Any]]:
    return (
        30,
        "forum/_profile.html",
        {
            "user": user,
            "threads": services.user_threads(user, viewer),
            "posts": services.user_posts(user, viewer),
        },
    )


@signals.account_exporting.connect
def _export(user: Any) -> tuple[str, dict[str, Any]]:
    return "forum", services.export_user(user)
