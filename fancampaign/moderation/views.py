"""Moderation pages: the report form, the review queue, item decisions and thread tools,
sanctions, watched words and the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from wtforms.fields.choices import SelectChoice

from fancampaign import policies, signals
from fancampaign.accounts.models import User
from fancampaign.accounts.services import get_by_username
from fancampaign.admin import sitesettings
from fancampaign.errors import DomainError, NotFoundError
from fancampaign.extensions import db, limiter
from fancampaign.guards import login_required, moderator_required, participant_required
from fancampaign.moderation import appeals, forms, ledger, services
from fancampaign.moderation.items import KINDS, Item
from fancampaign.moderation.models import ACTIONS, REPORT_REASONS, WatchedWord
from fancampaign.routing import page_arg
from fancampaign.web import attach_error, render_form, safe_next

bp = Blueprint("moderation", __name__)

KIND_PATH = "<any(post,thread,signature,petition,user):kind>"
ITEM_ACTIONS = ("dismiss", "hide", "restore", "delete", "lock", "unlock", "pin", "unpin")
ACTION_WORDS = {
    "dismiss": ("Dismiss the reports", "Reports dismissed."),
    "hide": ("Hide", "Hidden."),
    "restore": ("Restore", "Restored."),
    "delete": ("Delete", "Deleted."),
    "lock": ("Lock the thread", "Thread locked."),
    "unlock": ("Unlock the thread", "Thread unlocked."),
    "pin": ("Pin the thread", "Thread pinned."),
    "unpin": ("Unpin the thread", "Thread unpinned."),
}


MAX_ID = 2**31 - 1


@bp.url_value_preprocessor
def _refuse_huge_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Ids beyond any row (and beyond what SQLite can bind) are simply not found."""
    if values and any(isinstance(v, int) and v > MAX_ID for v in values.values()):
        abort(404)


@bp.app_template_global("moderation_viewer")
def moderation_viewer() -> Any:
    """The current user, for macros imported without the template's context (the user itself,
    not the proxy: a template reads several of its attributes)."""
    return current_user._get_current_object()


@bp.app_template_global("report_reasons")
def report_reasons() -> list[tuple[str, str]]:
    return list(REPORT_REASONS.items())


# Where a control's item id goes in a form rendered once per request (see ReportSetup.control).
_ID_SLOT = "report-item-id-slot"


@dataclass
class ReportSetup:
    """What every Report control on a page shares (templates/moderation/_report.html).

    A thread page has a control per post, each the same form but for the item's id: `control`
    renders the form once per kind and label, with a placeholder for the id, and then only
    puts each id in.
    """

    viewer_id: int
    action: str
    csrf_token: str
    next: str
    reasons: list[tuple[str, str]]
    forms: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def control(self, form: Any, kind: str, item_id: Any, label: str) -> Markup:
        """`form(kind, id, label, setup)` (the template's macro), for this item."""
        parts = self.forms.get((kind, label))
        if parts is None:
            parts = self.forms[(kind, label)] = str(form(kind, _ID_SLOT, label, self)).split(
                _ID_SLOT
            )
        return Markup(str(escape(item_id)).join(parts))  # noqa: S704  (the rendered macro)


@bp.app_template_global("report_setup")
def report_setup() -> ReportSetup | None:
    """The shared part of the Report controls, None when the viewer may not report.

    Worked out on the first control a page renders and kept for the request: a thread page
    has a control per post, and the form's address, token and `next` are the same in each.
    (Kept in `g` with the request it is for: `g` may outlive one request, as in the tests.)
    """
    current = request._get_current_object()
    cached = g.get("report_setup")
    if cached is None or cached[0] is not current:
        viewer = moderation_viewer()
        setup = (
            ReportSetup(
                viewer.id,
                url_for("moderation.report"),
                generate_csrf(),
                request.full_path.rstrip("?"),
                report_reasons(),
            )
            if policies.can_participate(viewer)
            else None
        )
        cached = g.report_setup = (current, setup)
    return cached[1]


@bp.app_template_global("moderation_categories")
def moderation_categories() -> list[Any]:
    """The forum categories, for the "move" tool when the page did not pass them."""
    from fancampaign.forum.models import Category

    return list(db.session.scalars(sa.select(Category).order_by(Category.position, Category.id)))


def _back(default: str | None = None) -> str:
    return safe_next(
        request.form.get("next") or request.args.get("next"), default or url_for("moderation.queue")
    )


def _fail(form: Any, err: DomainError) -> None:
    attach_error(form, err, err.details.get("field"))


def _reporter_key() -> str:
    # Per account (not per session: the session token changes with a password change).
    return f"reports:{current_user.id if current_user.is_authenticated else 'anon'}"


# Reports --------------------------------------------------------------------------------


@bp.route("/report", methods=["GET", "POST"])
@participant_required
@limiter.limit(
    lambda: sitesettings.value("RATELIMIT_REPORTS"), key_func=_reporter_key, methods=["POST"]
)
def report() -> Any:
    form = forms.ReportForm(request.form if request.method == "POST" else request.args)
    kind = form.kind.data or ""
    raw_id = form.id.data or ""
    if kind not in KINDS or not raw_id.isdigit() or len(raw_id) > 12 or int(raw_id) > MAX_ID:
        abort(404)
    try:
        item = services.reportable_item(kind, int(raw_id))
    except NotFoundError:
        abort(404)
    back = safe_next(form.next.data, item.url)
    status = 200
    if request.method == "POST" and form.validate():
        try:
            services.report_item(
                current_user, kind, item.id, form.reason.data, form.note.data or ""
            )
        except services.AlreadyReported as err:
            db.session.rollback()
            flash(err.message, "info")
            return redirect(back)
        except DomainError as err:
            _fail(form, err)
            status = err.status_code
        else:
            db.session.commit()
            flash("Thank you: your report was sent to the moderators.", "success")
            return redirect(back)
    return render_form("moderation/report.html", status=status, form=form, item=item)


# The queue ------------------------------------------------------------------------------


@bp.route("/moderation")
@moderator_required
def queue() -> Any:
    tab = request.args.get("tab", "reports")
    if tab not in ("reports", "held", "petitions", "appeals"):
        tab = "reports"
    page = page_arg()
    counts = {**services.queue_counts(), "appeals": appeals.open_count()}
    context: dict[str, Any] = {"tab": tab, "counts": counts}
    if tab == "appeals":
        context["pagination"] = appeals.open_appeals(page)
        context["entries"] = context["pagination"].items
    elif tab == "reports":
        context["pagination"], context["entries"] = services.queue_page(page)
    elif tab == "held":
        context["pagination"], context["entries"] = services.held_posts_page(page)
    else:
        context["pagination"] = services.pending_petitions_page(page)
        context["entries"] = context["pagination"].items
    return render_template(
        "moderation/queue.html", action_form=forms.ActionForm(), kinds=KINDS, **context
    )


def _load_item(kind: str, item_id: int) -> Item:
    try:
        return services.get_item(kind, item_id)
    except NotFoundError:
        abort(404)


@bp.route(f"/moderation/{KIND_PATH}/<int:item_id>/<action>", methods=["GET", "POST"])
@moderator_required
def act(kind: str, item_id: int, action: str) -> Any:
    if action not in ITEM_ACTIONS:
        abort(404)
    if action == "dismiss":
        item = services.get_item(kind, item_id, allow_missing=True)
    else:
        item = _load_item(kind, item_id)
    if action != "dismiss" and action not in KINDS[kind].actions:
        abort(404)
    form = forms.ActionForm()
    status = 200
    if form.validate_on_submit():
        try:
            if action == "dismiss":
                services.dismiss_reports(current_user, item, form.reason.data)
            elif action == "hide":
                services.hide_item(current_user, item, form.reason.data)
            elif action == "restore":
                services.restore_item(current_user, item, form.reason.data)
            elif action == "delete":
                services.delete_item(current_user, item, form.reason.data)
            else:
                services.thread_tool(current_user, item, action, form.reason.data)
        except DomainError as err:
            _fail(form, err)
            status = err.status_code
        else:
            db.session.commit()
            flash(ACTION_WORDS[action][1], "success")
            return redirect(_back())
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    return render_form(
        "moderation/action.html",
        status=status,
        form=form,
        item=item,
        action=action,
        button=ACTION_WORDS[action][0],
    )


@bp.route(f"/moderation/{KIND_PATH}/<int:item_id>/edit", methods=["GET", "POST"])
@moderator_required
def edit(kind: str, item_id: int) -> Any:
    item = _load_item(kind, item_id)
    if "edit" not in KINDS[kind].actions:
        abort(404)
    form = forms.EditForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.edit_item(current_user, item, form.text.data, form.reason.data)
        except DomainError as err:
            field = err.details.get("field") or ("reason" if "reason" in err.message else "text")
            attach_error(form, err, field)
            status = err.status_code
        else:
            db.session.commit()
            flash("Edited; the previous version is kept.", "success")
            return redirect(_back(item.url))
    if request.method == "GET":
        form.text.data = KINDS[kind].editable_text(item.obj)
        form.next.data = request.args.get("next", "")
    return render_form("moderation/edit.html", status=status, form=form, item=item)


@bp.route("/moderation/thread/<int:item_id>/move", methods=["GET", "POST"])
@moderator_required
def move(item_id: int) -> Any:
    from fancampaign.forum.models import Category

    item = _load_item("thread", item_id)
    categories = list(db.session.scalars(sa.select(Category).order_by(Category.position)))
    form = forms.MoveForm()
    form.category.choices = [SelectChoice(str(c.id), c.name) for c in categories]
    status = 200
    if form.validate_on_submit():
        chosen = next((c for c in categories if str(c.id) == form.category.data), None)
        try:
            services.move_thread(current_user, item, chosen, form.reason.data)
        except DomainError as err:
            _fail(form, err)
            status = err.status_code
        else:
            db.session.commit()
            flash(f"Thread moved to {chosen.name if chosen else ''}.", "success")
            return redirect(_back(item.url))
    if request.method == "GET":
        form.category.data = str(item.obj.category_id)
        form.next.data = request.args.get("next", "")
    return render_form("moderation/move.html", status=status, form=form, item=item)


@bp.route(
    "/moderation/petitions/<int:petition_id>/<any(approve,reject):decision>",
    methods=["GET", "POST"],
)
@moderator_required
def review_petition(petition_id: int, decision: str) -> Any:
    from fancampaign.petitions.models import Petition

    petition = db.session.get(Petition, petition_id)
    if petition is None:
        abort(404)
    form = forms.PetitionReviewForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.review_petition(
                current_user, petition, decision == "approve", form.reason.data or ""
            )
        except DomainError as err:
            _fail(form, err)
            status = err.status_code
        else:
            db.session.commit()
            flash(
                "Petition approved: it is open." if decision == "approve" else "Petition rejected.",
                "success",
            )
            return redirect(_back(url_for("moderation.queue", tab="petitions")))
    return render_form(
        "moderation/petition_review.html",
        status=status,
        form=form,
        petition=petition,
        decision=decision,
    )


# Sanctions ------------------------------------------------------------------------------


@bp.route("/moderation/users")
@moderator_required
def users() -> Any:
    form = forms.UserSearchForm(request.args)
    pagination = None
    status = 200
    if request.args.get("q") is not None:
        if form.validate():
            page = page_arg()
            pagination = db.paginate(
                services.find_users(form.q.data or ""), page=page, per_page=30, error_out=False
            )
        else:
            status = 400
    counts = services.sanction_counts([u.id for u in pagination.items]) if pagination else {}
    return render_template(
        "moderation/users.html", form=form, pagination=pagination, counts=counts
    ), status


def _user_or_404(username: str) -> User:
    user = get_by_username(username) if len(username) <= 30 else None
    if user is None or user.is_deleted:
        abort(404)
    return user


def _user_page(user: User, form: Any, status: int = 200) -> Any:
    page = page_arg()
    history = db.paginate(services.user_history(user), page=page, per_page=20, error_out=False)
    return render_form(
        "moderation/user.html",
        status=status,
        user=user,
        form=form,
        history=history,
        reports=services.reports_about(user),
        sanctions=services.sanction_counts([user.id]).get(user.id, 0),
        can_sanction=policies.can_sanction(current_user, user),
    )


@bp.route("/moderation/users/<username>")
@moderator_required
def user(username: str) -> Any:
    user = _user_or_404(username)
    form = forms.SanctionForm()
    form.next.data = request.args.get("next", "")
    return _user_page(user, form)


@bp.route("/moderation/users/<username>/sanction", methods=["POST"])
@moderator_required
def sanction(username: str) -> Any:
    user = _user_or_404(username)
    form = forms.SanctionForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.sanction_user(
                current_user,
                user,
                form.action.data,
                form.reason.data,
                period=form.period.data or "",
                until=form.until.data,
            )
        except DomainError as err:
            _fail(form, err)
            status = err.status_code
        else:
            db.session.commit()
            flash(
                {
                    "warn": f"{user.username} was warned.",
                    "suspend": f"{user.username} is suspended.",
                    "ban": f"{user.username} is banned.",
                    "lift": f"Restrictions on {user.username} were lifted.",
                }[form.action.data],
                "success",
            )
            return redirect(_back(url_for("moderation.user", username=user.username)))
    return _user_page(user, form, status)


# Watched words --------------------------------------------------------------------------


@bp.route("/moderation/words", methods=["GET", "POST"])
@moderator_required
def words() -> Any:
    form = forms.WordForm()
    status = 200
    if form.validate_on_submit():
        try:
            word = services.add_word(
                current_user, form.pattern.data, form.action.data, form.message.data or ""
            )
        except DomainError as err:
            _fail(form, err)
            status = err.status_code
        else:
            db.session.commit()
            flash(f"“{word.pattern}” added.", "success")
            return redirect(url_for("moderation.words"))
    return render_form("moderation/words.html", status=status, form=form, words=services.words())


@bp.route("/moderation/words/<int:word_id>/delete", methods=["POST"])
@moderator_required
def remove_word(word_id: int) -> Any:
    word = db.session.get(WatchedWord, word_id)
    if word is None:
        abort(404)
    form = forms.BaseForm()
    if not form.validate_on_submit():
        abort(400, "The form expired; please try again.")
    services.remove_word(current_user, word)
    db.session.commit()
    flash(f"“{word.pattern}” removed.", "success")
    return redirect(url_for("moderation.words"))


# The audit log --------------------------------------------------------------------------


@bp.route("/moderation/log")
@moderator_required
def log() -> Any:
    form = forms.LogFilterForm(request.args)
    form.action.choices = [SelectChoice("", "Any")] + [
        SelectChoice(k, v) for k, v in ACTIONS.items()
    ]
    status = 200
    moderator = None
    if not form.validate():
        status = 400
        stmt = services.log_query()
    else:
        if form.moderator.data:
            moderator = get_by_username(form.moderator.data.strip())
            if moderator is None:
                form.moderator.errors = [*form.moderator.errors, "No such user."]
                status = 400
        stmt = services.log_query(
            moderator=moderator, action=form.action.data or "", kind=form.kind.data or ""
        )
        if status == 400:
            stmt = stmt.where(sa.false())
    page = page_arg()
    pagination = db.paginate(stmt, page=page, per_page=30, error_out=False)
    filters = {
        k: v
        for k, v in (
            ("moderator", form.moderator.data),
            ("action", form.action.data),
            ("kind", form.kind.data),
        )
        if v
    }
    return render_template(
        "moderation/log.html", form=form, pagination=pagination, filters=filters
    ), status


# The public ledger -------------------------------------------------------------------------


@bp.route("/moderation/transparency")
def transparency() -> Any:
    page = page_arg()
    pagination, decisions = ledger.recent(current_user, page)
    return render_template(
        "moderation/transparency.html",
        months=ledger.monthly(),
        pagination=pagination,
        decisions=decisions,
        outcomes=list(ledger.OUTCOMES),
        reasons=[*REPORT_REASONS, "other"],
        reason_label=ledger.reason_label,
        days=ledger.RECENT_DAYS,
    )


# Appeals ------------------------------------------------------------------------------------


@bp.route(f"/moderation/appeal/{KIND_PATH}/<int:item_id>", methods=["GET", "POST"])
@login_required
def appeal(kind: str, item_id: int) -> Any:
    try:
        action = appeals.appealable(current_user, kind, item_id)
    except DomainError:
        abort(404)
    existing = appeals.appeal_of(action)
    if existing is not None and policies.can_see_appeal(current_user, existing):
        return redirect(url_for("moderation.appeal_page", appeal_id=existing.id))
    form = forms.AppealForm()
    status = 200
    if form.validate_on_submit():
        try:
            made = appeals.make_appeal(current_user, action, form.note.data)
        except DomainError as err:
            _fail(form, err)
            status = err.status_code
        else:
            db.session.commit()
            flash("Your appeal was sent. Another moderator will look at it.", "success")
            return redirect(url_for("moderation.appeal_page", appeal_id=made.id))
    return render_form("moderation/appeal.html", status=status, form=form, action=action)


@bp.route("/moderation/appeals/<int:appeal_id>")
@login_required
def appeal_page(appeal_id: int, form: Any = None, status: int = 200) -> Any:
    try:
        found = appeals.get_appeal(appeal_id, current_user)
    except NotFoundError:
        abort(404)
    form = form or forms.AppealDecisionForm()
    return render_form("moderation/appeal_page.html", status=status, appeal=found, form=form)


@bp.route("/moderation/appeals/<int:appeal_id>/decide", methods=["POST"])
@moderator_required
def decide_appeal(appeal_id: int) -> Any:
    found = appeals.get_appeal(appeal_id, current_user)
    form = forms.AppealDecisionForm()
    status = 400
    if form.validate_on_submit():
        try:
            appeals.decide_appeal(
                current_user, found, form.outcome.data == "uphold", form.reason.data
            )
        except DomainError as err:
            _fail(form, err)
            status = err.status_code
        else:
            db.session.commit()
            flash("Appeal decided; the member was told.", "success")
            return redirect(url_for("moderation.queue", tab="appeals"))
    return appeal_page(appeal_id, form=form, status=status)


# The profile page: a "Report" control, and a link for moderators -----------------------------


def _profile_section(user: User, viewer: Any = None, **_kw: Any) -> tuple[int, str, dict[str, Any]]:
    return (90, "moderation/_profile.html", {"user": user})


signals.profile_sections.connect(_profile_section, weak=False)


@signals.account_exporting.connect
def _export(user: User) -> tuple[str, Any]:
    return "reports", services.export_reports(user)
