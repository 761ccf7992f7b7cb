"""Petition pages: list, page, start and edit, sign and withdraw, confirm, CSV, embed."""

from __future__ import annotations

import csv
import hashlib
import io
import time as time_module
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from fancampaign import policies
from fancampaign.accounts import viewer
from fancampaign.admin import sitesettings
from fancampaign.caching import EVERY_PAGE
from fancampaign.campaign import services as campaign
from fancampaign.errors import DomainError, InvalidToken
from fancampaign.extensions import db, limiter
from fancampaign.guards import login_required, organiser_required, participant_required
from fancampaign.ledger import services as ledger
from fancampaign.pagecache import (
    Fill,
    Page,
    Viewer,
    changes_at,
    each,
    fragment,
    page_meta,
    render_part,
)
from fancampaign.petitions import chart, hooks, services  # noqa: F401  (hooks connect signals)
from fancampaign.petitions.countries import country_name
from fancampaign.petitions.forms import (
    GuestSignForm,
    PetitionForm,
    SignForm,
    SourceForm,
    VictoryForm,
)
from fancampaign.petitions.models import CARD_OPTIONS, Petition
from fancampaign.routing import page_arg
from fancampaign.security import embeddable
from fancampaign.text import normalise_email
from fancampaign.web import absolute_url, attach_error, base_url, render_form

bp = Blueprint("petitions", __name__)


# Share links --------------------------------------------------------------------------------
# A visitor arriving by /petitions/<slug>?r=<code> has the code kept in their session and is
# sent on to the page without it: the page (cached and shared) never holds a code, every
# share link is served from one cached page, and the address a recruited visitor copies to
# share again is not someone else's link. The sign handler reads the code back.

RECRUITED = "recruited"  # the session's [[slug, code], ...], the latest few petitions
RECRUITED_MAX = 5


@bp.before_request
def _keep_recruiter_code() -> Any:
    if request.endpoint != "petitions.show" or "r" not in request.args:
        return None
    slug = str((request.view_args or {}).get("slug", ""))
    code = services.normal_code(request.args.get("r"))
    if code is not None:  # anything else is ignored: a visitor never gets an error for it
        kept = [pair for pair in session.get(RECRUITED) or [] if pair[0] != slug]
        session[RECRUITED] = [*kept, [slug, code]][-RECRUITED_MAX:]
    rest = {k: v for k, v in request.args.lists() if k != "r"}
    response = redirect(url_for("petitions.show", slug=slug, **rest), 302)
    response.headers["Cache-Control"] = "no-store"
    return response


def _carried_code(slug: str) -> str | None:
    for pair in session.get(RECRUITED) or []:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == slug:
            return services.normal_code(pair[1])
    return None


def _forget_code(slug: str) -> None:
    if RECRUITED in session:
        session[RECRUITED] = [pair for pair in session[RECRUITED] if pair[0] != slug]


def share_url(slug: str, code: str) -> str:
    """The share link that credits `code`: absolute, on BASE_URL."""
    return absolute_url("petitions.show", slug=slug, r=code)


def _signed_state(viewer: Any, petition: Petition, mine: Any) -> dict[str, Any]:
    """What the signed state shows its member: their share link (while the petition takes
    signatures), what it brought here, and whether they are listed among top recruiters."""
    if mine is None or not mine.confirmed_at or not policies.is_member(viewer):
        return {"share_url": None, "brought": 0, "listed": False}
    # Read only: a page never writes (the code is made when signing, or by its own button).
    code = services.get_recruiter_code(viewer)
    return {
        "share_url": share_url(petition.slug, code.code) if code and petition.is_open else None,
        "brought": services.brought(viewer, petition),
        "listed": bool(code and code.is_shown),
    }


# Signing limits. A meetup, a school or a mobile carrier puts many people behind one address, so
# the address gets only a high ceiling; each member is limited per account and each guest per
# normalised email (the identity a guest signature is unique by). Withdrawing counts as signing.

SIGN_LIMITED = (
    "You have signed or withdrawn many times in the last hour. Please wait a while and try again."
)


def _is_member() -> bool:
    return bool(current_user.is_authenticated)


def _is_guest() -> bool:
    return not _is_member()


def _member_key() -> str:
    return f"sign:user:{current_user.get_id()}"


def _guest_address() -> str:
    try:
        email = request.form.get("email", "")
    except HTTPException:  # a body too large to read: no address, and the view refuses it
        return ""
    return normalise_email(email[:254])


def _guest_key() -> str:
    # Hashed: the limiter's storage never holds an address.
    return "sign:email:" + hashlib.sha256(_guest_address().encode()).hexdigest()[:32]


def _no_guest_address() -> bool:
    return _is_member() or "@" not in _guest_address()


def _member_limit() -> str:
    """The admin console's signing limit, for members only (guests are exempt from it). The
    member is loaded first: the login's query brings the settings' version along, so the
    setting is read without a query of its own."""
    if _is_guest():
        return ""
    return str(sitesettings.value("RATELIMIT_SIGN"))


_per_member = limiter.shared_limit(
    _member_limit,
    scope="sign-member",
    key_func=_member_key,
    exempt_when=_is_guest,
    error_message=SIGN_LIMITED,
)
_per_guest_address = limiter.limit(
    lambda: current_app.config["RATELIMIT_SIGN_EMAIL"],
    key_func=_guest_key,
    exempt_when=_no_guest_address,
    error_message=SIGN_LIMITED,
)
_per_ip = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_SIGN_IP"],
    scope="sign-ip",
    error_message="Many signatures have come from your network in the last hour. Please wait a "
    "while and try again.",
)


def _load(slug: str, *, for_signing: bool = False, read: dict[str, Any] | None = None) -> Petition:
    """The petition at `slug`, or 404 for one the viewer may not see. `read`: what the
    signer's login query read of it (`services.signing_marks`)."""
    try:
        petition = services.get_petition(slug, for_signing=for_signing, marks=read)
    except DomainError:
        abort(404)
    if not policies.can_see_petition(current_user, petition):
        abort(404)
    return petition


def _deadline(form: PetitionForm) -> datetime | None:
    day = form.deadline.data
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC) if day else None


def _field_error(form: Any, err: DomainError) -> None:
    attach_error(form, err, err.details.get("field"))


# Lists of petitions: their counts may lag a few seconds (a signature must not re-render every
# list); they change by themselves when a deadline passes.
LIST = ("petitions", *EVERY_PAGE)


@bp.route("/petitions")
@Page("petitions", depends=LIST, lagging=("signatures",), args=("status", "sort", "page"))
def index() -> Any:
    status = request.args.get("status", "open")
    sort = request.args.get("sort", "popular")
    if status not in services.FILTERS:
        status = "open"
    if sort not in services.SORTS:
        sort = "popular"
    number = page_arg()

    def render_list() -> str:
        page = db.paginate(
            services.list_petitions(status, sort).options(*CARD_OPTIONS),
            page=number,
            per_page=current_app.config["PER_PAGE"],
            error_out=False,
            count=True,
        )
        context = {"page": page, "status": status, "sort": sort}
        context["last_day"] = services.last_day_counts(page.items)
        # Rendered without the context processors: nothing in the list is about the viewer.
        return current_app.jinja_env.get_template("petitions/_list.html").render(context)

    # One rendering of the list serves every viewer until a content table changes.
    listing = fragment(
        f"petitions:{status}:{sort}:{number}",
        render_list,
        depends=LIST,
        lagging=("signatures",),
        changes_at=services.next_deadline(),
    )
    return render_template("petitions/index.html", listing=listing, status=status, sort=sort)


def _show(
    petition: Petition,
    *,
    sign_form: Any = None,
    status: int = 200,
) -> Any:
    viewer = current_user
    mine = services.signature_of(viewer, petition)
    signed_state = _signed_state(viewer, petition, mine)
    if sign_form is None:
        sign_form = SignForm() if viewer.is_authenticated else GuestSignForm()
    comments = None
    thread = petition.thread if petition.thread_id else None
    if thread is not None:
        from fancampaign.forum.discussions import latest_comments

        comments = latest_comments(thread, viewer, per_page=5)
    days = services.daily_counts(petition) if petition.opened_at else []
    context = {
        "petition": petition,
        "mine": mine,
        "form": sign_form,
        "signers": services.recent_signers(petition),
        "reasons": services.reasons(petition),
        "days": days,
        "chart": chart.bar_chart(days),
        "countries": services.top_countries(petition),
        "country_name": country_name,
        "thread": thread,
        "comments": comments,
        "recruiters": services.top_recruiters(petition),
        **signed_state,
    }
    # Whoever wrote something on the page (the petition, a reason shown) sees it without a
    # Report control: they get a page of their own (`_fills`).
    authors = {petition.creator_id, *(sig.user_id for sig in context["reasons"])} - {None}
    page_meta(
        petition=petition.id,
        slug=petition.slug,
        title=petition.title,
        open=petition.is_open,
        authors=sorted(authors),
        # What the progress shows besides the count (`_live`): an edit changes it.
        stamp=str(petition.updated_at or petition.created_at),
    )
    return render_form("petitions/show.html", status=status, **context)


def _marks(meta: dict[str, Any]) -> dict[str, Any]:
    """What a member's version of the petition page asks about them: their signature, their
    share code and what it brought to this petition."""
    on_petition = {"mark_petition_id": meta["petition"]}
    return {
        "signature": (services.signature_mark(), on_petition),
        "brought": (services.brought_mark(), on_petition),
        "code": (services.code_mark(), {}),
        "count": (services.count_mark(), on_petition),  # for `_live`
    }


def _fills(viewer: Viewer, meta: dict[str, Any]) -> dict[str, Fill] | None:
    """A member's version of the petition page rendered for every member: their signature
    (the creator, and a signer whose reason is shown, with no Report control on what they
    wrote, need a page of their own)."""
    if viewer.user.id in meta["authors"]:
        return None
    state = viewer.marks["signature"]
    if state is None:
        return {}
    code, listed = None, False
    marks = viewer.marks
    if state and marks.get("code"):  # confirmed: the share step, with their own link
        code, _sep, shown = str(marks["code"]).partition(":")
        listed = shown == "1"
    box = render_part(
        "petitions/_signed.html",
        petition={"slug": meta["slug"], "is_open": meta["open"], "title": meta.get("title", "")},
        mine={"confirmed_at": bool(state)},
        share_url=share_url(meta["slug"], code) if code and meta["open"] else None,
        brought=int(marks.get("brought") or 0) if state else 0,
        listed=listed,
    )
    return {"sign": each(lambda _petition_id, _html: box)}


# The progress rendered for each (petition, its state, count, minute): what `_live` hands out
# while nobody signs. The minute bounds how late "closes in N hours" can be.
_PROGRESS: dict[tuple[Any, ...], str] = {}
_PROGRESS_MAX = 1024


def _live(meta: dict[str, Any], answers: dict[str, Any]) -> dict[str, Fill]:
    """For every request: the count and progress as committed now (a member's count came
    with their login, `_marks`; a visitor's takes one query; the progress is rendered again
    only when the count, the petition or the minute moved)."""

    def progress(args: dict[str, str]) -> dict[str, str]:
        count = answers["count"] if "count" in answers else services.count_of(meta["petition"])
        if count is None:
            return {}
        key = (meta["petition"], meta.get("stamp"), count, int(time_module.time() // 60))
        html = _PROGRESS.get(key)
        if html is None:
            petition = services.progress_of(meta["petition"])
            if petition is None:
                return {}
            # Rendered without the context processors: nothing in it is about the viewer.
            template = current_app.jinja_env.get_template("petitions/_progress.html")
            html = template.render(petition=petition)
            if len(_PROGRESS) >= _PROGRESS_MAX:
                _PROGRESS.clear()
            _PROGRESS[(meta["petition"], meta.get("stamp"), petition.signature_count, key[3])] = (
                html
            )
        return dict.fromkeys(args, html)

    return {"progress": progress}


# The petition page: the exact count on every request (`_live`); recent signers, reasons, the
# chart and the discussion's latest comments may lag a few seconds (a signature or a reply
# elsewhere must not re-render it); it changes by itself when its deadline passes.
petition_page = Page(
    "petition",
    depends=("petitions", "news", *EVERY_PAGE),
    lagging=("signatures", "forum"),
    marks=_marks,
    fills=_fills,
    live=_live,
)


@bp.route("/petitions/<slug>")
@petition_page
def show(slug: str) -> Any:
    petition = _load(slug)
    changes_at(petition.deadline)
    return _show(petition)


@bp.route("/petitions/new", methods=["GET", "POST"])
@participant_required
def new() -> Any:
    form = PetitionForm()
    if form.validate_on_submit():
        try:
            petition = services.create_petition(
                current_user,
                title=form.title.data,
                summary=form.summary.data,
                body=form.body.data or "",
                target=form.target.data,
                goal=form.goal.data,
                deadline=_deadline(form),
            )
        except DomainError as err:
            _field_error(form, err)
            return render_form(
                "petitions/form.html", form=form, petition=None, status=err.status_code
            )
        db.session.commit()
        if petition.status == "open":
            flash("Your petition is open. Share it!", "success")
        else:
            flash("Thank you! Moderators will review your petition before it opens.", "success")
        return redirect(url_for("petitions.show", slug=petition.slug), 303)
    return render_form("petitions/form.html", form=form, petition=None)


@bp.route("/petitions/<slug>/edit", methods=["GET", "POST"])
@participant_required
def edit(slug: str) -> Any:
    petition = _load(slug)
    if not policies.can_manage_petition(current_user, petition):
        abort(403)
    form = PetitionForm(obj=petition)
    if request.method == "GET" and petition.deadline:
        form.deadline.data = petition.deadline.date()
    if form.validate_on_submit():
        deadline = _deadline(form)
        if petition.deadline and deadline and deadline.date() == petition.deadline.date():
            deadline = petition.deadline
        try:
            services.update_petition(
                current_user,
                petition,
                title=form.title.data,
                summary=form.summary.data,
                body=form.body.data or "",
                target=form.target.data,
                goal=form.goal.data,
                deadline=deadline,
            )
        except DomainError as err:
            _field_error(form, err)
            return render_form(
                "petitions/form.html", form=form, petition=petition, status=err.status_code
            )
        db.session.commit()
        flash("Petition saved.", "success")
        return redirect(url_for("petitions.show", slug=petition.slug), 303)
    return render_form("petitions/form.html", form=form, petition=petition)


def _petition_with_the_login(view: Callable[..., Any]) -> Callable[..., Any]:
    """The signer's login query reads the petition's few columns too (one round trip for
    both; a guest's petition is read on its own). The member is loaded here, before the
    limits (which ask who signs), and what was read of the petition goes to the view."""

    @wraps(view)
    def wrapped(slug: str) -> Any:
        read: dict[str, Any] = {}
        if "_user_id" in session:  # Flask-Login's login, read below with the petition
            found = viewer.load_viewer(services.signing_marks(slug))
            if found is not None:
                read = found.marks
        return view(slug, petition_read=read)

    return wrapped


@bp.route("/petitions/<slug>/sign", methods=["POST"])
@_petition_with_the_login
@_per_ip
@_per_member
@_per_guest_address
def sign(slug: str, petition_read: dict[str, Any] | None = None) -> Any:
    petition = _load(slug, for_signing=True, read=petition_read)
    member = current_user.is_authenticated
    form = SignForm() if member else GuestSignForm()
    if not form.validate_on_submit():
        return _show(_load(slug), sign_form=form, status=400)  # now the whole petition
    extras = {
        "reason": form.reason.data or "",
        "country": form.country.data or None,
        "is_public": form.is_public.data,
        "keep_updated": form.keep_updated.data,
        "recruiter_code": _carried_code(slug),
    }
    signer_id = current_user.id if member else None
    try:
        if member:
            signed = services.sign_petition(current_user, petition, **extras)
            receipt = ledger.receipt_text(petition.id, signed.id)
        else:
            services.sign_as_guest(
                petition,
                name=form.name.data,
                email=form.email.data,
                consent=form.consent.data,
                secret_key=current_app.config["SECRET_KEY"],
                base_url=base_url(),
                **extras,
            )
    except services.AlreadySigned as err:
        db.session.rollback()
        flash(err.message, "info")
        return redirect(url_for("petitions.show", slug=slug), 303)
    except DomainError as err:
        _field_error(form, err)
        return _show(_load(slug), sign_form=form, status=err.status_code)
    db.session.commit()
    _forget_code(slug)
    if signer_id is not None:
        # Their own share link for the step after signing (one statement, no read).
        services.ensure_recruiter_code(signer_id)
        db.session.commit()
    if member:
        flash(f"Thank you for signing! Your signature has been counted. {receipt}", "success")
        return redirect(url_for("petitions.show", slug=slug, _anchor="sign"), 303)
    return redirect(url_for("petitions.check_inbox", slug=slug), 303)


@bp.route("/petitions/<slug>/signed")
def check_inbox(slug: str) -> Any:
    return render_template("petitions/check_inbox.html", petition=_load(slug))


def _act_and_show(action: Callable[[Any, Petition], object], petition: Petition, done: str) -> Any:
    """Run one service call by the current user on the petition, commit (or roll back and flash
    the error), then back to the petition's page."""
    try:
        action(current_user, petition)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("petitions.show", slug=petition.slug), 303)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("petitions.show", slug=petition.slug), 303)


@bp.route("/petitions/<slug>/withdraw", methods=["POST"])
@_per_ip
@_per_member
def withdraw(slug: str) -> Any:
    petition = _load(slug)
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=url_for("petitions.show", slug=slug)))
    return _act_and_show(services.withdraw_signature, petition, "Your signature has been removed.")


@bp.route("/signatures/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> Any:
    secret, max_age = current_app.config["SECRET_KEY"], _confirm_max_age()
    try:
        signature = services.signature_for_token(token, secret, max_age)
        if request.method == "GET":
            return _confirmation_page(signature)
        signature, counted = services.confirm_signature(token, secret, max_age)
    except InvalidToken as err:
        db.session.rollback()
        return render_template("petitions/token_invalid.html", message=err.message), 400
    except DomainError as err:
        db.session.rollback()
        return render_template("petitions/token_invalid.html", message=err.message), 409
    db.session.commit()
    # The guest's own share link, for the thank-you page (which only reads).
    services.issue_guest_code(signature)
    db.session.commit()
    if counted:
        receipt = ledger.receipt_text(signature.petition_id, signature.id)
        db.session.commit()
        flash(f"Thank you! Your signature has been confirmed and counted. {receipt}", "success")
    else:
        flash("Your signature was already confirmed.", "info")
    # The link's own page, now the guest's thank-you with their share link.
    return redirect(url_for("petitions.confirm", token=token), 303)


def _confirmation_page(signature: Any) -> Any:
    """The Confirm button; once confirmed, thank you and the guest's own share link."""
    petition = signature.petition
    context: dict[str, Any] = {"signature": signature, "share_url": None, "brought": 0}
    code = services.get_guest_code(signature) if signature.confirmed_at else None
    if code is not None:  # made by the Confirm button (pressed again, if need be)
        if petition.is_open:
            context["share_url"] = share_url(petition.slug, code.code)
        context["brought"] = services.brought_by_code(code)
    response = make_response(render_template("petitions/confirm.html", **context))
    response.headers["Cache-Control"] = "private, no-store"  # the guest's own link
    return response


def _confirm_max_age() -> int:
    config = current_app.config
    return int(config.get("SIGNATURE_CONFIRM_MAX_AGE") or config["CONFIRM_TOKEN_MAX_AGE"])


@bp.route("/petitions/<slug>/close", methods=["POST"])
@organiser_required
def close(slug: str) -> Any:
    petition = _load(slug)
    return _act_and_show(campaign.close, petition, "The petition is closed.")


@bp.route("/petitions/<slug>/won", methods=["GET", "POST"])
@organiser_required
def won(slug: str) -> Any:
    petition = _load(slug)
    form = VictoryForm()
    if form.validate_on_submit():
        try:
            campaign.mark_won(current_user, petition, form.note.data)
        except DomainError as err:
            _field_error(form, err)
            return render_form(
                "petitions/won.html", form=form, petition=petition, status=err.status_code
            )
        db.session.commit()
        flash("Victory! The petition is marked as won.", "success")
        return redirect(url_for("petitions.show", slug=petition.slug), 303)
    return render_form("petitions/won.html", form=form, petition=petition)


def _csv_cell(value: str) -> str:
    # Spreadsheets run cells that start with these as formulas.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.route("/petitions/<slug>/signatures.csv")
@organiser_required
def signatures_csv(slug: str) -> Any:
    petition = _load(slug)
    if not policies.can_export_signatures(current_user, petition):
        abort(403)
    campaign.log_export(current_user, petition, "csv")
    db.session.commit()

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["name", "country", "date", "reason"])
        for n, row in enumerate(services.export_rows(petition), 1):
            writer.writerow([_csv_cell(cell) for cell in row])
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{petition.slug}-signatures.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/petitions/<slug>/embed")
@embeddable
def embed(slug: str) -> Any:
    petition = _load(slug)
    if not petition.is_public:
        abort(404)
    return render_template("petitions/embed.html", petition=petition)


# Recruiting: being listed, and the organisers' sources ---------------------------------


@bp.route("/petitions/<slug>/share-link", methods=["POST"])
@login_required
def share_link(slug: str) -> Any:
    petition = _load(slug)
    return _act_and_show(
        lambda user, _p: services.issue_recruiter_code(user), petition, "Here is your share link."
    )


@bp.route("/petitions/<slug>/recruiters", methods=["POST"])
@login_required
def recruiter_listing(slug: str) -> Any:
    petition = _load(slug)
    shown = request.form.get("listed") == "1"
    done = (
        "Your name is now listed among the top recruiters."
        if shown
        else "Your name is no longer listed among the top recruiters."
    )

    def act(user: Any, _petition: Petition) -> None:
        # Recruiter codes are in the page cache's "people" group: the lists show it at once.
        services.set_recruiter_shown(user, shown)

    return _act_and_show(act, petition, done)


def _campaigner(slug: str) -> Petition:
    petition = _load(slug)
    if not policies.can_run_campaign(current_user, petition):
        abort(403)
    return petition


@bp.route("/petitions/<slug>/sources", methods=["GET", "POST"])
@organiser_required
def sources(slug: str) -> Any:
    petition = _campaigner(slug)
    form = SourceForm()
    if form.validate_on_submit():
        try:
            source = services.create_source(current_user, petition, form.label.data)
        except DomainError as err:
            _field_error(form, err)
        else:
            db.session.commit()
            flash(f"Source “{source.label}” made: share its link below.", "success")
            return redirect(url_for("petitions.sources", slug=slug), 303)
    counts = services.source_counts(petition)
    links = {code.id: share_url(petition.slug, code.code) for code, _n in counts.sources}
    return render_form(
        "petitions/sources.html", form=form, petition=petition, counts=counts, links=links
    )
