from flask import Blueprint, render_template

bp = Blueprint("news", __name__)


@bp.route("/news")
def index():
    return render_template("placeholder.html", title="News")
