from flask import Blueprint, render_template

bp = Blueprint("petitions", __name__)


@bp.route("/petitions")
def index():
    return render_template("placeholder.html", title="Petitions")
