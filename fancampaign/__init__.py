"""fancampaign: a self-hosted community web app for fan campaigns."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from flask import Flask, g

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_FOLDER = ROOT / "templates"
STATIC_FOLDER = ROOT / "static"

# Each area is a package with views.py (a blueprint `bp`), and optionally cli.py (`commands`).
AREAS = (
    "main",
    "accounts",
    "notifications",
    "forum",
    "petitions",
    "ledger",
    "campaign",
    "news",
    "moderation",
    "search",
    "api",
    "share",
    "admin",
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, errors, CLI."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(TEMPLATE_FOLDER),
        static_folder=str(STATIC_FOLDER),
    )
    from fancampaign import config

    config.load(app, test_config)
    from fancampaign.sessions import CookieSessions

    app.session_interface = CookieSessions()
    _init_extensions(app)
    _register_areas(app)
    from fancampaign import errors, security, templating

    errors.register(app)
    security.register(app)
    templating.register(app)
    from fancampaign import cli

    cli.register(app)
    return app


def _init_extensions(app: Flask) -> None:
    from fancampaign.accounts.viewer import load_user
    from fancampaign.extensions import (
        autocommit_reads,
        configure_sqlite,
        csrf,
        db,
        include_in_migrations,
        limiter,
        login_manager,
        migrate,
        render_migration_item,
    )
    from fancampaign.mail.services import flush_after_commit

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
        include_object=include_in_migrations,
    )
    csrf.init_app(app)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        # Limits live in Redis when there is one, so every worker and host shares them.
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    login_manager.user_loader(load_user)
    with app.app_context():
        configure_sqlite(app)
        autocommit_reads(app)
    from fancampaign import caching

    caching.init_app(app)

    @app.after_request
    def _send_mail(response: Any) -> Any:
        return flush_after_commit(response)

    @app.teardown_appcontext
    def _forget_mail(_exc: BaseException | None) -> None:
        g.pop("mail_pending", None)


def _register_areas(app: Flask) -> None:
    from fancampaign import routing

    routing.register(app)  # before any area adds a rule
    for area in AREAS:
        views = importlib.import_module(f"fancampaign.{area}.views")
        app.register_blueprint(views.bp)
