from flask import Blueprint, render_template

bp = Blueprint("forum", __name__)


@bp.route("/forum")
def index():
    return render_template("placeholder.html", title="Forum")
