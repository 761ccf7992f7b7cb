from flask import Blueprint, render_template

bp = Blueprint("moderation", __name__)


@bp.route("/moderation")
def queue():
    return render_template("placeholder.html", title="Moderation")
