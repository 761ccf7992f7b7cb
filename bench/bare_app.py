"""The framework ceiling: a bare Flask app served with the same gunicorn settings as fancampaign.

- `/hello`: a constant string (Flask + gunicorn and nothing else);
- `/query`: one primary-key query (Flask-SQLAlchemy, the same database and driver as the app)
  and a small Jinja template: the figure every fancampaign page is compared with.

Run it as `gunicorn bench.bare_app:app` with DATABASE_URL pointing at the bench database.
"""

from __future__ import annotations

import itertools
import os

import sqlalchemy as sa
from flask import Flask, render_template
from flask_sqlalchemy import SQLAlchemy
from jinja2 import DictLoader
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "sqlite:///instance/fancampaign.db")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(30))
    display_name: Mapped[str] = mapped_column(sa.String(60))


PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ user.username }}</title></head>
<body>
  <main>
    <h1>{{ user.display_name or user.username }}</h1>
    <p>Member number {{ user.id }}.</p>
    <ul>{% for n in range(5) %}<li>Item {{ n }} of {{ user.username }}</li>{% endfor %}</ul>
  </main>
</body>
</html>
"""

app = Flask(__name__)
# A template loaded and compiled once, as the app's templates are.
app.jinja_loader = DictLoader({"user.html": PAGE})
app.config["SQLALCHEMY_DATABASE_URI"] = _database_url()
db.init_app(app)

with app.app_context():
    _max_id = db.session.scalar(sa.select(sa.func.max(User.id))) or 1
    db.session.remove()
# Walk through the users so each request reads a different row.
_ids = itertools.cycle(range(1, _max_id + 1, 7919 if _max_id > 7919 else 1))


@app.route("/hello")
def hello() -> str:
    return "Hello, World!"


@app.route("/query")
def query() -> str:
    user = db.session.get(User, next(_ids))
    if user is None:
        user = db.session.get(User, 1)
    return render_template("user.html", user=user)
