"""The log's pages: what it is and its checkpoints, checking a receipt, the site's public key.

Its JSON (checkpoints, proofs) is part of API v1, in api/views.py.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from fancampaign import policies
from fancampaign.errors import DomainError, NotFoundError
from fancampaign.extensions import db
from fancampaign.ledger import services
from fancampaign.ledger.verifier import verify_inclusion
from fancampaign.petitions.models import Petition
from fancampaign.petitions.services import get_petition, signature_of

bp = Blueprint("ledger", __name__)

RECENT = 50
HASH_RE = re.compile(r"[0-9a-f]{64}")


def load_public(slug: str) -> Petition:
    """A public petition (open, closed, won): only those have a log to show; else 404."""
    try:
        petition = get_petition(slug)
    except DomainError:
        abort(404)
    if not petition.is_public:
        abort(404)
    return petition


@bp.route("/petitions/<slug>/log")
def log(slug: str) -> Any:
    petition = load_public(slug)
    latest = services.checkpoint_if_due(petition)
    db.session.commit()
    recent = services.list_checkpoints(petition.id, max(latest.number - RECENT, 0), RECENT)
    return render_template(
        "ledger/log.html",
        petition=petition,
        latest=latest,
        checkpoints=list(reversed(recent)),
        key_id=services.key_id(),
        interval=services.checkpoint_interval(),
    )


@bp.route("/petitions/<slug>/verify")
def verify(slug: str) -> Any:
    petition = load_public(slug)
    receipt = (request.args.get("receipt") or "").strip().lower()
    context: dict[str, Any] = {"petition": petition, "receipt": receipt}
    mine = signature_of(current_user, petition) if policies.is_member(current_user) else None
    if mine is not None and mine.confirmed_at is not None:
        context["own"] = services.receipt_for(petition.id, mine.id)
    if not receipt:
        db.session.commit()
        return render_template("ledger/verify.html", **context)
    if not HASH_RE.fullmatch(receipt):
        context["error"] = "A receipt is 64 characters from 0-9 and a-f, as shown when you signed."
        return render_template("ledger/verify.html", **context), 400
    try:
        found = services.inclusion(petition, bytes.fromhex(receipt))
    except NotFoundError as err:
        db.session.commit()
        context["error"] = err.message
        return render_template("ledger/verify.html", **context), 404
    db.session.commit()
    checkpoint = found.checkpoint
    context["found"] = found
    context["proven"] = verify_inclusion(
        found.leaf_index, checkpoint.tree_size, found.leaf_hash, found.proof, checkpoint.root_hash
    )
    return render_template("ledger/verify.html", **context)


@bp.route("/.well-known/fancampaign-log-key")
def public_key() -> Any:
    response = Response(services.public_key_pem(), mimetype="text/plain")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
