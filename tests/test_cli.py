"""The `fancampaign` command, driven through Click's test runner."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from fancampaign import ROOT
from fancampaign.accounts import services
from fancampaign.accounts.models import Role, User
from fancampaign.cli import main
from fancampaign.extensions import db
from fancampaign.mail.services import queue_email
from tests.factories import PASSWORD, make_user

MIGRATIONS = ROOT / "migrations" / "versions"
has_migrations = any(MIGRATIONS.glob("*.py"))


def users() -> list[User]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(User).order_by(User.id)))


def test_help_lists_our_commands_and_flasks(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("demo", "seed", "create-user", "set-role", "worker", "run", "shell", "db"):
        assert f"  {name}" in result.output


# create-user ----------------------------------------------------------------------------


def test_create_user_reads_the_password_from_a_file(runner, tmp_path):
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD + "\n")
    result = runner.invoke(
        main,
        [
            "create-user",
            "Ido",
            "--email",
            "Ido@Example.com",
            "--role",
            "organiser",
            "--password-file",
            str(password_file),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Created Ido (organiser)" in result.output
    (user,) = users()
    assert (user.username, user.email, user.role) == ("Ido", "ido@example.com", Role.ORGANISER)
    assert user.is_confirmed
    assert services.authenticate("ido", PASSWORD) is not None


def test_create_user_prompts_for_the_password_twice(runner):
    result = runner.invoke(
        main, ["create-user", "hugo", "--email", "hugo@example.com"], input=f"{PASSWORD}\n" * 2
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # typed, not echoed
    (user,) = users()
    assert user.role == Role.MEMBER
    assert services.authenticate("hugo", PASSWORD) is not None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["create-user", "hugo", "--email", "hugo@example.com"], "short\nshort\n", "at least 10"),
        (["create-user", "a", "--email", "a@example.com"], f"{PASSWORD}\n" * 2, "3 to 30"),
        (["create-user", "hugo", "--email", "nope"], f"{PASSWORD}\n" * 2, "valid email"),
        (["create-user", "taken", "--email", "new@example.com"], f"{PASSWORD}\n" * 2, "taken"),
        (["create-user", "hugo", "--email", "h@example.com", "--role", "king"], "", "king"),
        (["create-user", "hugo"], "", "--email"),
    ],
)
def test_create_user_refuses_bad_input_with_a_message(runner, args, stdin, message):
    make_user("taken")
    result = runner.invoke(main, args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert [u.username for u in users()] == ["taken"]


# set-role --------------------------------------------------------------------------------


def test_create_user_may_take_a_reserved_name(runner, tmp_path):
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD)
    args = ["create-user", "admin", "--email", "root@example.com", "--role", "admin"]
    result = runner.invoke(main, [*args, "--password-file", str(password_file)])
    assert result.exit_code == 0, result.output
    assert users()[0].role == Role.ADMIN


def test_set_role_gives_a_user_a_role(runner):
    make_user("Gelda")
    result = runner.invoke(main, ["set-role", "gelda", "moderator"])
    assert result.exit_code == 0, result.output
    assert "Gelda is now moderator" in result.output
    assert users()[0].role == Role.MODERATOR


def test_set_role_refuses_unknown_users_and_roles(runner):
    make_user("gelda")
    result = runner.invoke(main, ["set-role", "nobody", "admin"])
    assert result.exit_code != 0
    assert "No user named nobody" in result.output
    result = runner.invoke(main, ["set-role", "gelda", "emperor"])
    assert result.exit_code != 0
    assert users()[0].role == Role.MEMBER


# worker ----------------------------------------------------------------------------------


def test_worker_once_sends_queued_mail_and_stops(runner, outbox):
    queue_email("a@example.com", "One", "Body")
    queue_email("b@example.com", "Two", "Body")
    db.session.commit()
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Mail worker started (backend: memory)" in result.output
    assert "sent 2, failed 0" in result.output
    assert sorted(m["To"] for m in outbox) == ["a@example.com", "b@example.com"]


# seed and demo ---------------------------------------------------------------------------


def test_seed_loads_the_demo_accounts_once_and_prints_their_passwords(runner, app, tmp_path):
    app.instance_path = str(tmp_path / "instance")  # demo-accounts.txt goes there
    result = runner.invoke(main, ["seed"])
    assert result.exit_code == 0, result.output
    names = {u.username: u.role for u in users()}
    assert names["admin"] == Role.ADMIN
    assert names["ido"] == Role.ORGANISER
    assert names["gelda"] == Role.MODERATOR
    for member in ("hugo", "koyomi", "zapan", "chiren"):
        assert names[member] == Role.MEMBER
    passwords = Path(app.instance_path, "demo-accounts.txt").read_text()
    for line in passwords.splitlines():
        username, password = line.split(" ", 1)
        assert f"{username}" in result.output and password in result.output
        assert services.authenticate(username, password) is not None
    again = runner.invoke(main, ["seed"])
    assert again.exit_code == 0, again.output
    assert len(users()) == len(names)


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    """A fresh instance folder and the default (SQLite in instance/) database."""
    for name in ("DATABASE_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("FANCAMPAIGN_"):
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    monkeypatch.setenv("FANCAMPAIGN_INSTANCE_PATH", str(instance))
    return instance


@pytest.mark.skipif(
    not has_migrations, reason="migrations/versions is empty: the demo cannot upgrade yet"
)
def test_demo_no_serve_migrates_seeds_and_prints_the_accounts(demo_env):
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--no-serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "fancampaign demo is ready." in result.output
    assert "admin" in result.output and "organiser" in result.output
    database = demo_env / "fancampaign.db"
    assert database.exists()
    assert (demo_env / "secret_key").exists()
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"users", "outbox_messages", "alembic_version"} <= tables
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] >= 7
    passwords = (demo_env / "demo-accounts.txt").read_text()
    # A second run keeps the data, the key and the passwords.
    key = (demo_env / "secret_key").read_text()
    again = runner.invoke(main, ["demo", "--no-serve"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert (demo_env / "secret_key").read_text() == key
    assert (demo_env / "demo-accounts.txt").read_text() == passwords
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] >= 7


def test_demo_no_serve_prepares_an_instance_and_prints_the_accounts(demo_env, monkeypatch):
    """The demo's own steps, with the schema made by create_all instead of the migrations."""
    import fancampaign.cli

    monkeypatch.setattr(fancampaign.cli, "upgrade_database", db.create_all)
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--no-serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "fancampaign demo is ready." in result.output
    assert "Open http://127.0.0.1:5000/" in result.output
    key = (demo_env / "secret_key").read_text()
    passwords = dict(
        line.split(" ", 1) for line in (demo_env / "demo-accounts.txt").read_text().splitlines()
    )
    assert set(passwords) >= {"admin", "ido", "gelda", "hugo", "koyomi", "zapan", "chiren"}
    for username, password in passwords.items():
        assert username in result.output and password in result.output
    again = runner.invoke(main, ["demo", "--no-serve"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert (demo_env / "secret_key").read_text() == key
    with sqlite3.connect(demo_env / "fancampaign.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == len(passwords)


def test_seed_passwords_never_break_the_registration_rules(app, monkeypatch):
    """A random password may contain a short username ("3ZBidOJH…" holds "ido"): the demo's
    account passwords are drawn again until the rules accept them."""
    from fancampaign import seeds

    draws = iter(["3ZBidOJH7EEbqZ7b", "Lh0XWq9Vt-Dx2Npa"])
    monkeypatch.setattr(seeds.secrets, "token_urlsafe", lambda _n: next(draws))
    assert seeds.new_password("ido", "ido@example.com") == "Lh0XWq9Vt-Dx2Npa"


def test_the_demo_builds_its_links_on_the_address_it_serves(demo_env, monkeypatch):
    import fancampaign
    import fancampaign.cli

    made = []
    real_create_app = fancampaign.create_app

    def recording_create_app(config=None):
        made.append(real_create_app(config))
        return made[-1]

    monkeypatch.setattr(fancampaign, "create_app", recording_create_app)
    monkeypatch.setattr(fancampaign.cli, "upgrade_database", db.create_all)
    args = ["demo", "--no-serve", "--host", "0.0.0.0", "--port", "8123"]  # noqa: S104
    result = CliRunner().invoke(main, args, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "Open http://localhost:8123/" in result.output
    (demo,) = [app for app in made if app.config["DEMO"]]
    assert demo.config["BASE_URL"] == "http://localhost:8123"
    assert demo.config["TRUSTED_HOSTS"] == ["localhost"]


@pytest.mark.skipif(
    not has_migrations, reason="migrations/versions is empty: the demo cannot upgrade yet"
)
def test_demo_runs_the_mail_worker_while_it_serves_and_stops_it(demo_env, monkeypatch):
    import threading

    import werkzeug.serving

    seen = {}

    def fake_serve(*_args, **_kwargs):
        seen["workers"] = [t for t in threading.enumerate() if t.name == "mail-worker"]

    monkeypatch.setattr(werkzeug.serving, "run_simple", fake_serve)
    result = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Mail worker running in the background." in result.output
    assert len(seen["workers"]) == 1
    assert not seen["workers"][0].is_alive()
