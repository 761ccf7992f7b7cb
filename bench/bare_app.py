"""The framework ceiling: a bare Flask app served with the same gunicorn settings as fancampaign.

- `/hello`: a constant string (Flask + gunicorn and nothing else);
- `/query`: one primary-key query (Flask-SQLAlchemy, the same database and driver as the app)
  and a small Jinja template: the figure every fancampaign page is compared with;
- `POST /write`: the write ceiling, what signing is compared with: one INSERT into a table
  with a unique (petition, user) constraint, one counter `UPDATE ... SET n = n + 1` on one
  row, a COMMIT, then a 303 (no session, no CSRF, no login: the database's share alone).

Run it as `gunicorn bench.bare_app:app` with DATABASE_URL pointing at the bench database.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random

import sqlalchemy as sa
from flask import Flask, redirect, render_template
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


class BareWrite(db.Model):
    __tablename__ = "bare_writes"
    __table_args__ = (sa.UniqueConstraint("petition_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int]
    user_id: Mapped[int] = mapped_column(sa.BigInteger)


class BareCounter(db.Model):
    __tablename__ = "bare_counters"

    petition_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(default=0)


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
    for table in (BareWrite.__table__, BareCounter.__table__):
        # Another worker, booting at the same time, may make it first.
        with contextlib.suppress(sa.exc.DatabaseError):
            table.create(db.engine, checkfirst=True)
    if db.session.get(BareCounter, 1) is None:
        try:
            db.session.add(BareCounter(petition_id=1, n=0))
            db.session.commit()
        except sa.exc.IntegrityError:  # another worker made it first
            db.session.rollback()
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


# Each request is a new (petition, user) pair, as each signer is: random 62-bit user ids
# (a collision in a run of a few million is about one in a billion).
_INSERT = sa.insert(BareWrite).values(petition_id=1, user_id=sa.bindparam("user_id"))
_COUNT = sa.update(BareCounter).where(BareCounter.petition_id == 1).values(n=BareCounter.n + 1)


@app.route("/write", methods=["POST"])
def write() -> object:
    db.session.execute(_INSERT, {"user_id": random.getrandbits(62)})
    db.session.execute(_COUNT)
    db.session.commit()
    return redirect("/hello", 303)
