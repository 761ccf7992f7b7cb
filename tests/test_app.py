"""The app factory and its configuration: defaults, instance file, environment, overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import request

from fancampaign import create_app
from fancampaign.config import new_log_signing_key
from fancampaign.extensions import db
from tests.conftest import make_config

ENV_VARS = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "FLASK_DEBUG")


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("FANCAMPAIGN_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def instance(tmp_path: Path, clean_env) -> Path:
    """An empty instance folder the app is pointed at."""
    path = tmp_path / "instance"
    path.mkdir()
    clean_env.setenv("FANCAMPAIGN_INSTANCE_PATH", str(path))
    return path


# Folders -------------------------------------------------------------------------------


def test_template_and_static_folders_are_absolute_and_exist(app):
    templates = Path(app.template_folder)
    static = Path(app.static_folder)
    assert templates.is_absolute() and static.is_absolute()
    assert (templates / "base.html").is_file()
    assert (templates / "accounts" / "login.html").is_file()
    assert (static / "css" / "app.css").is_file()
    assert app.jinja_env.get_template("base.html") is not None


def test_static_files_are_served(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["Content-Type"]
    response.close()


# Configuration order -------------------------------------------------------------------


def test_defaults_give_an_sqlite_database_in_the_instance_folder(instance):
    app = create_app({"TESTING": True})
    assert app.instance_path == str(instance.resolve())
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance.resolve()}/fancampaign.db"
    assert app.config["MAIL_BACKEND"] == "console"
    assert app.config["UPLOAD_FOLDER"] == str(instance.resolve() / "uploads")


def test_the_sqlite_database_runs_in_wal_mode_with_foreign_keys(instance):
    app = create_app({"TESTING": True})
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        db.engine.dispose()


def test_instance_config_then_env_then_test_overrides(instance, clean_env):
    (instance / "config.py").write_text(
        "SITE_NAME = 'from instance'\nPER_PAGE = 7\nBASE_URL = 'http://instance'\n"
        "MAIL_FROM = 'instance <i@example.com>'\n"
    )
    clean_env.setenv("FANCAMPAIGN_PER_PAGE", "9")
    clean_env.setenv("FANCAMPAIGN_BASE_URL", "http://env")
    clean_env.setenv("FANCAMPAIGN_MAIL_FROM", "env <e@example.com>")
    app = create_app({"TESTING": True, "MAIL_FROM": "test <t@example.com>"})
    assert app.config["SITE_NAME"] == "from instance"  # instance beats defaults
    assert app.config["PER_PAGE"] == 9  # env beats instance (parsed as JSON)
    assert app.config["BASE_URL"] == "http://env"
    assert app.config["MAIL_FROM"] == "test <t@example.com>"  # test overrides beat env


def test_database_url_redis_url_and_secret_key_come_from_the_environment(instance, clean_env):
    clean_env.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/fan")
    clean_env.setenv("REDIS_URL", "redis://cache.example:6379/2")
    clean_env.setenv("SECRET_KEY", "from-env")
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example:5432/fan"
    assert app.config["REDIS_URL"] == "redis://cache.example:6379/2"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://cache.example:6379/2"
    assert app.secret_key == "from-env"


def test_rate_limits_use_memory_without_redis(instance):
    app = create_app({"TESTING": True})
    assert (app.config.get("RATELIMIT_STORAGE_URI") or "memory://").startswith("memory://")


# Secret key ----------------------------------------------------------------------------


def test_production_without_a_secret_key_stops_with_a_clear_message(instance):
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app()


def test_production_without_a_log_signing_key_stops_with_a_clear_message(instance, clean_env):
    clean_env.setenv("SECRET_KEY", "s3cret")
    clean_env.setenv("FANCAMPAIGN_BASE_URL", "https://campaign.example.org")
    with pytest.raises(RuntimeError, match="LOG_SIGNING_KEY is not set"):
        create_app()


def test_production_with_a_secret_key_starts_with_secure_cookies(instance, clean_env):
    clean_env.setenv("SECRET_KEY", "s3cret")
    clean_env.setenv("FANCAMPAIGN_BASE_URL", "https://campaign.example.org")
    clean_env.setenv("FANCAMPAIGN_LOG_SIGNING_KEY", new_log_signing_key())
    app = create_app()
    assert app.secret_key == "s3cret"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_the_demo_generates_its_log_signing_key_once_and_keeps_it(instance):
    first = create_app({"DEMO": True})
    key_file = instance / "log_signing_key"
    assert key_file.read_text().strip() == first.config["LOG_SIGNING_KEY"]
    assert key_file.stat().st_mode & 0o077 == 0
    assert create_app({"DEMO": True}).config["LOG_SIGNING_KEY"] == first.config["LOG_SIGNING_KEY"]


def test_the_demo_generates_a_secret_key_once_and_keeps_it(instance):
    first = create_app({"DEMO": True})
    key_file = instance / "secret_key"
    assert key_file.read_text().strip() == first.secret_key
    assert len(first.secret_key) >= 32
    assert key_file.stat().st_mode & 0o077 == 0
    second = create_app({"DEMO": True})
    assert second.secret_key == first.secret_key
    assert second.config["SESSION_COOKIE_SECURE"] is False


def test_testing_runs_without_a_secret_key(instance):
    assert create_app({"TESTING": True}).secret_key


# Health --------------------------------------------------------------------------------


def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-directory/for/sure/fancampaign.db",
        "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2",
    ],
    ids=["sqlite", "postgresql"],
)
def test_healthz_is_503_when_the_database_is_unreachable(tmp_path, url):
    app = create_app(make_config(tmp_path, SQLALCHEMY_DATABASE_URI=url))
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] is False
    with app.app_context():
        db.engine.dispose()


def test_the_test_database_is_empty_and_has_the_schema(app):
    from fancampaign.accounts.models import User

    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


# Errors --------------------------------------------------------------------------------


def test_unknown_pages_are_404_with_a_message(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "There is nothing here" in response.get_data(as_text=True)


@pytest.mark.config(PROPAGATE_UNEXPECTED=False)
def test_an_unexpected_error_is_a_500_page_without_details(app, client):
    def boom():
        raise ValueError("secret internals")

    app.add_url_rule("/_boom", "boom", boom)
    response = client.get("/_boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "secret internals" not in body


def test_a_request_over_the_size_limit_is_413_with_a_message(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/login", data={"login": "x" * 5000, "password": "y"})
    assert response.status_code == 413
    assert "What you sent is too large." in response.get_data(as_text=True)


# Behind a proxy ------------------------------------------------------------------------


def _client_address_route(app):
    from flask import request

    app.add_url_rule("/_addr", "addr", lambda: f"{request.remote_addr} {request.scheme}")


def test_forwarded_headers_are_ignored_without_trusted_proxies(app, client):
    _client_address_route(app)
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    assert client.get("/_addr", headers=headers).get_data(as_text=True) == "127.0.0.1 http"


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_a_trusted_proxy_gives_the_client_address_and_scheme(app, client):
    _client_address_route(app)
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    assert client.get("/_addr", headers=headers).get_data(as_text=True) == "203.0.113.9 https"


@pytest.mark.config(TRUSTED_PROXIES=1, RATELIMIT_ENABLED=True)
def test_behind_a_proxy_login_limits_count_each_client_apart(client):
    for _ in range(10):
        client.post("/login", data={}, headers={"X-Forwarded-For": "203.0.113.1"})
    blocked = client.post("/login", data={}, headers={"X-Forwarded-For": "203.0.113.1"})
    assert blocked.status_code == 429
    other = client.post("/login", data={}, headers={"X-Forwarded-For": "203.0.113.2"})
    assert other.status_code == 400


def test_page_reads_skip_the_limiter_only_while_no_limit_is_on_them(app):
    """extensions._unlimited_read lets page reads (GET, HEAD outside the API and
    LIMITED_READS) skip the limiter: right only while every other limit is on writes alone."""
    from flask_limiter.util import get_qualified_name

    from fancampaign.extensions import LIMITED_READS, limiter

    manager = limiter.limit_manager
    limited = 0
    for rule in app.url_map.iter_rules():
        name = get_qualified_name(app.view_functions[rule.endpoint])
        for limit in manager._decorated_limits.get(name, ()):
            limited += 1
            methods = {m.upper() for m in limit.methods} if limit.methods else rule.methods
            if rule.endpoint not in LIMITED_READS:
                assert not methods & {"GET", "HEAD"}, f"{rule.rule} limits reads"
    assert limited, "no limit found: the check above proved nothing"
    assert set(manager._blueprint_limits) <= {"api"}


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_a_page_read_does_not_go_through_the_limiter_and_a_write_does(client, monkeypatch):
    from flask_limiter import Limiter

    checked: list[str | None] = []
    original = Limiter._check_request_limit

    def counting(self, callable_name=None, in_middleware=True):
        checked.append(request.endpoint)
        return original(self, callable_name, in_middleware)

    monkeypatch.setattr(Limiter, "_check_request_limit", counting)
    assert client.get("/petitions").status_code == 200
    assert checked == []
    client.post("/login", data={})
    assert set(checked) == {"accounts.login"}
    client.get("/api/v1/petitions")
    assert checked[-1] == "api.petitions"
