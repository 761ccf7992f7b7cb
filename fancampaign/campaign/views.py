"""Campaign pages: the organisers' tools, the delivery pack, the timeline feed, the signer's
manage and unsubscribe links, and the target's response link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
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

from fancampaign import policies
from fancampaign.campaign import feeds, forms, pdf, services
from fancampaign.campaign.models import MILESTONE_MAIL
from fancampaign.errors import DomainError, InvalidToken
from fancampaign.extensions import csrf, db
from fancampaign.guards import organiser_required
from fancampaign.petitions import services as petitions
from fancampaign.petitions.countries import country_name
from fancampaign.petitions.models import Petition
from fancampaign.web import attach_error, render_form

bp = Blueprint("campaign", __name__)


def _load(slug: str) -> Petition:
    try:
        petition = petitions.get_petition(slug)
    except DomainError:
        abort(404)
    if not policies.can_see_petition(current_user, petition):
        abort(404)
    return petition


def _campaigner(slug: str) -> Petition:
    petition = _load(slug)
    if not policies.can_run_campaign(current_user, petition):
        abort(403)
    return petition


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


# Public: the timeline as a feed and in the page ------------------------------------------


@bp.app_template_global()
def campaign_timeline(petition: Petition) -> list[services.Entry]:
    return services.timeline(petition)


@bp.route("/petitions/<slug>/timeline.atom")
def timeline_feed(slug: str) -> Response:
    petition = _load(slug)
    if not petition.is_public:
        abort(404)
    body = feeds.timeline_feed(petition, services.timeline(petition))
    return Response(body, mimetype="application/atom+xml")


# Organisers ------------------------------------------------------------------------------


def _tools(petition: Petition, status: int = 200, **forms_given: Any) -> Any:
    context = {
        "petition": petition,
        "milestone_form": forms_given.get("milestone_form")
        or forms.MilestoneMailForm(milestone_mail=services.milestone_mail(petition)),
        "delivery_form": forms_given.get("delivery_form") or forms.DeliveryForm(),
        "link_form": forms_given.get("link_form") or forms.ResponseLinkForm(),
        "response_form": forms_given.get("response_form") or forms.ElsewhereResponseForm(),
        "deliveries": services.deliveries(petition),
        "new_link": forms_given.get("new_link"),
        "milestone_choices": MILESTONE_MAIL,
    }
    return render_form("campaign/tools.html", status=status, **context)


@bp.route("/petitions/<slug>/campaign")
@organiser_required
def tools(slug: str) -> Any:
    return _tools(_campaigner(slug))


def _act(slug: str, form_name: str, form: Any, action: Callable[[Petition], Any], done: str) -> Any:
    """Validate one tools form, run one service call, commit, back to the tools page (or the
    page again with the form's errors)."""
    petition = _campaigner(slug)
    if not form.validate_on_submit():
        return _tools(petition, status=400, **{form_name: form})
    try:
        action(petition)
    except DomainError as err:
        attach_error(form, err, err.details.get("field"))
        return _tools(petition, status=err.status_code, **{form_name: form})
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("campaign.tools", slug=slug), 303)


@bp.route("/petitions/<slug>/milestone-mail", methods=["POST"])
@organiser_required
def milestone_mail(slug: str) -> Any:
    form = forms.MilestoneMailForm()
    return _act(
        slug,
        "milestone_form",
        form,
        lambda p: services.set_milestone_mail(current_user, p, form.milestone_mail.data),
        "Milestone emails saved.",
    )


@bp.route("/petitions/<slug>/deliveries", methods=["POST"])
@organiser_required
def deliver(slug: str) -> Any:
    form = forms.DeliveryForm()
    data = services.DeliveryInput(
        recipient=form.recipient.data or "",
        delivered_at=_utc(form.delivered_at.data),
        method=form.method.data or "",
        note=form.note.data or "",
        with_countries=bool(form.with_countries.data),
    )
    return _act(
        slug,
        "delivery_form",
        form,
        lambda p: services.record_delivery(current_user, p, data),
        "Delivery recorded; the signers who asked for updates are being told.",
    )


@bp.route("/petitions/<slug>/responses", methods=["POST"])
@organiser_required
def post_response(slug: str) -> Any:
    form = forms.ElsewhereResponseForm()
    return _act(
        slug,
        "response_form",
        form,
        lambda p: services.post_response_elsewhere(
            current_user,
            p,
            responder=form.responder.data or "",
            body=form.body.data or "",
            source_url=form.source_url.data or "",
            responded_at=_utc(form.responded_at.data),
        ),
        "Response posted on the petition.",
    )


@bp.route("/petitions/<slug>/response-links", methods=["POST"])
@organiser_required
def response_link(slug: str) -> Any:
    petition = _campaigner(slug)
    form = forms.ResponseLinkForm()
    if not form.validate_on_submit():
        return _tools(petition, status=400, link_form=form)
    try:
        _link, token = services.create_response_link(
            current_user, petition, form.contact.data or "", form.days.data or 0
        )
    except DomainError as err:
        attach_error(form, err, err.details.get("field"))
        return _tools(petition, status=err.status_code, link_form=form)
    db.session.commit()
    url = current_app.config["BASE_URL"].rstrip("/") + url_for("campaign.respond", token=token)
    # Shown once: only the token's hash is kept.
    return _tools(petition, new_link=url)


@bp.route("/petitions/<slug>/reopen", methods=["POST"])
@organiser_required
def reopen(slug: str) -> Any:
    petition = _load(slug)
    try:
        services.reopen(current_user, petition)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("petitions.show", slug=slug), 303)
    db.session.commit()
    flash("The petition is open again.", "success")
    return redirect(url_for("petitions.show", slug=slug), 303)


# The delivery pack ------------------------------------------------------------------------


def _pack(petition: Petition) -> dict[str, Any]:
    return {
        "petition": petition,
        "countries": services.count_by_country(petition),
        "country_name": country_name,
        "timeline": services.timeline(petition),
        "deliveries": services.deliveries(petition),
        "responses": services.responses(petition),
        "made_at": datetime.now(UTC),
    }


def _exporter(slug: str) -> Petition:
    petition = _load(slug)
    if not (policies.can_export_signatures(current_user, petition) and petition.is_public):
        abort(403)
    return petition


@bp.route("/petitions/<slug>/delivery")
@organiser_required
def delivery(slug: str) -> Any:
    return render_template("campaign/delivery.html", **_pack(_exporter(slug)))


@bp.route("/petitions/<slug>/delivery.pdf")
@organiser_required
def delivery_pdf(slug: str) -> Any:
    petition = _exporter(slug)
    services.log_export(current_user, petition, "pdf")
    db.session.commit()
    body = pdf.delivery_pdf(**_pack(petition))
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{petition.slug}-delivery.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


# Links in mail ---------------------------------------------------------------------------


def _invalid(err: DomainError, status: int = 400) -> Any:
    db.session.rollback()
    return render_template("campaign/link_invalid.html", message=err.message), status


@bp.route("/signatures/manage/<token>", methods=["GET", "POST"])
def manage(token: str) -> Any:
    form = forms.ConfirmForm()
    try:
        signature = services.signature_for_manage(token, _secret())
    except InvalidToken as err:
        return _invalid(err)
    if request.method == "GET" or not form.validate_on_submit():
        return render_form("campaign/manage.html", form=form, signature=signature, token=token)
    action = request.form.get("action")
    try:
        if action == "withdraw":
            petition = services.withdraw_by_link(token, _secret())
            done = "Your signature has been withdrawn."
        elif action == "updates_off":
            signature = services.updates_off_by_link(token, _secret())
            petition = signature.petition
            done = "You will get no more update emails about this petition."
        else:
            abort(400)
    except DomainError as err:
        return _invalid(err, 409)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("petitions.show", slug=petition.slug), 303)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" with no form token
def unsubscribe(token: str) -> Any:
    try:
        if request.method == "GET":
            found = services.unsubscribe_for(token, _secret())
            return render_template("campaign/unsubscribe.html", found=found, done=False)
        found = services.unsubscribe(token, _secret())
    except InvalidToken as err:
        return _invalid(err)
    db.session.commit()
    return render_template("campaign/unsubscribe.html", found=found, done=True)


@bp.route("/respond/<token>", methods=["GET", "POST"])
def respond(token: str) -> Any:
    form = forms.RespondForm()
    try:
        link = services.response_link_for(token)
    except InvalidToken as err:
        return _invalid(err)
    petition = db.session.get(Petition, link.petition_id)
    if not form.validate_on_submit():
        return render_form("campaign/respond.html", form=form, link=link, petition=petition)
    try:
        services.use_response_link(
            token, responder=form.responder.data or "", body=form.body.data or ""
        )
    except InvalidToken as err:
        return _invalid(err)
    except DomainError as err:
        attach_error(form, err, err.details.get("field"))
        return render_form(
            "campaign/respond.html", form=form, link=link, petition=petition, status=400
        )
    db.session.commit()
    return render_template(
        "campaign/responded.html", petition=petition, answered=bool(form.body.data)
    )
