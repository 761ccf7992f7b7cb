"""Configuration: defaults, then instance/config.py, then the environment, then test overrides."""

from __future__ import annotations

import base64
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

ENV_PREFIX = "FANCAMPAIGN"


class Defaults:
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled in from instance_path when unset
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    REDIS_URL: str | None = None

    # Set by `fancampaign demo`: a generated secret key, mail sent at once, demo banner.
    DEMO = False

    # Sessions and cookies.
    SECURE_COOKIES: bool | None = None  # None: on in production (served over HTTPS)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)
    WTF_CSRF_TIME_LIMIT = 4 * 3600

    # Request limits: large enough for a 5 MB cover image, small enough to refuse abuse.
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024

    # Mail: "console" prints whole messages to the log; "smtp" sends them.
    MAIL_BACKEND = "console"
    MAIL_SEND_IMMEDIATELY: bool | None = None  # None: at once in demo and tests, else by the worker
    MAIL_FROM = "fancampaign <noreply@localhost>"
    MAIL_SMTP_HOST = "localhost"
    MAIL_SMTP_PORT = 25
    MAIL_SMTP_USERNAME: str | None = None
    MAIL_SMTP_PASSWORD: str | None = None
    MAIL_SMTP_STARTTLS = False
    MAIL_MAX_ATTEMPTS = 8
    # Campaign mail to signers (campaign/mailer.py): per worker round, and a ceiling per minute
    # shared by every worker; an unreachable server is retried after this many seconds (doubled
    # on each attempt, at most an hour).
    CAMPAIGN_MAIL_BATCH = 200
    CAMPAIGN_MAIL_PER_MINUTE = 1200
    CAMPAIGN_MAIL_RETRY_SECONDS = 60
    # Notification mail about a thread waits this long from its first event, gathering every
    # later one: one mail per thread per quiet period however many replies (seconds, from the
    # environment: FANCAMPAIGN_NOTIFICATION_MAIL_QUIET=600).
    NOTIFICATION_MAIL_QUIET = timedelta(minutes=10)

    # How many reverse proxies (nginx, a load balancer) stand in front of the app. Their
    # X-Forwarded-For/-Proto/-Host headers are believed only then: rate limits key on the real
    # client address and emailed links use https. 0: the headers are ignored (no spoofing).
    TRUSTED_PROXIES = 0

    # The site's public address, e.g. https://campaign.example.org: every absolute URL (links
    # in mail, feeds, share links, embed code, the API) is built from it, never from a
    # request's Host header. Required in production; http://localhost:5000 otherwise.
    BASE_URL: str | None = None
    # Requests must be addressed to BASE_URL's host name or to one of these (say the IP a
    # health check uses); any other Host header gets 400. A list, or names separated by commas.
    ALLOWED_HOSTS: list[str] | str = []
    SITE_NAME = "fancampaign"
    # Where to report a security hole, for /.well-known/security.txt (RFC 9116): an email
    # address or an https:// URL (or a list). Unset: the file is not served.
    SECURITY_CONTACT: str | list[str] | None = None

    # Tokens.
    CONFIRM_TOKEN_MAX_AGE = 7 * 24 * 3600
    RESET_TOKEN_MAX_AGE = 3600

    # Rate limits (Flask-Limiter syntax). Memory by default, Redis when REDIS_URL is set.
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    # Redis down: the same limits are kept in this process's memory (Flask-Limiter logs
    # "Rate limit storage unreachable" once) and go back to Redis when it answers again. The
    # timeouts keep a Redis that stops answering from holding every request.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS: dict[str, Any] = {
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
    }
    RATELIMIT_LOGIN = "10 per minute;50 per hour"
    RATELIMIT_REGISTER = "5 per hour;20 per day"
    RATELIMIT_RESET = "5 per hour"
    RATELIMIT_POSTS = "30 per hour"
    RATELIMIT_THREADS = "10 per day"
    RATELIMIT_REPORTS = "20 per hour"
    # Signing and withdrawing: a member per account, a guest per normalised email, and everyone
    # from one IP address under a ceiling high enough for a meetup or a carrier's NAT.
    RATELIMIT_SIGN = "30 per hour"
    RATELIMIT_SIGN_EMAIL = "10 per hour"
    RATELIMIT_SIGN_IP = "600 per hour"
    # Confirmation (and "already signed") mails to one guest address, however it is spelt:
    # counted in the outbox, so it holds across workers, without Redis and with limits off.
    RATELIMIT_SIGN_MAIL = "3 per hour"
    RATELIMIT_API = "300 per minute"
    # Accounts younger than this get the tighter "new account" limits above.
    NEW_ACCOUNT_AGE = timedelta(days=3)

    # Moderation.
    AUTO_HIDE_REPORTS = 3

    # Uploads (cover images) live here; served by the app with long cache headers.
    UPLOAD_FOLDER: str | None = None
    UPLOAD_MAX_BYTES = 5 * 1024 * 1024

    PER_PAGE = 20

    # The petition log (ledger/): on by default; off only to measure what it costs.
    LOG_ENABLED = True
    # The site's Ed25519 key for signing checkpoints: base64 of the 32-byte private key
    # (FANCAMPAIGN_LOG_SIGNING_KEY). Unset: read from instance/log_signing_key, which the demo
    # and a development server generate once; production refuses to start without either.
    LOG_SIGNING_KEY: str | None = None
    # At most one checkpoint per petition per this many seconds while it changes.
    LOG_CHECKPOINT_INTERVAL = 60


def _env_overrides(app: Flask) -> None:
    # FANCAMPAIGN_FOO=... sets FOO (values parsed as JSON when they parse: 1, true, "x").
    app.config.from_prefixed_env(ENV_PREFIX)
    env = os.environ
    if env.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(env["DATABASE_URL"])
    if env.get("REDIS_URL"):
        app.config["REDIS_URL"] = env["REDIS_URL"]
    if env.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = env["SECRET_KEY"]


def _normalise_db_url(url: str) -> str:
    # Hosting platforms hand out postgres:// URLs; we speak psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_production(app: Flask) -> bool:
    """Production is anything that is not debug, testing or the demo."""
    return not (app.debug or app.testing or app.config.get("DEMO"))


def _secret_key_file(app: Flask) -> Path:
    return Path(app.instance_path) / "secret_key"


def ensure_demo_secret_key(instance_path: str) -> str:
    """Generate the demo's secret key once and keep it in instance/."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def new_log_signing_key() -> str:
    """A fresh Ed25519 private key, base64 (LOG_SIGNING_KEY's format)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _load_log_signing_key(app: Flask) -> None:
    # Kept once made: every checkpoint ever signed must stay checkable with the same key.
    if app.config.get("LOG_SIGNING_KEY"):
        return
    path = Path(app.instance_path) / "log_signing_key"
    if path.exists():
        app.config["LOG_SIGNING_KEY"] = path.read_text().strip()
    elif app.testing:
        app.config["LOG_SIGNING_KEY"] = new_log_signing_key()
    elif not is_production(app):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_log_signing_key())
        path.chmod(0o600)
        app.config["LOG_SIGNING_KEY"] = path.read_text().strip()
    else:
        raise RuntimeError(
            "LOG_SIGNING_KEY is not set. In production set FANCAMPAIGN_LOG_SIGNING_KEY to the "
            "base64 of a 32-byte Ed25519 private key (for example: python -c 'import base64, "
            "secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())'), keep it "
            "safe and never change it: it signs the petitions' checkpoints."
        )


def _set_instance_path(app: Flask, test_config: dict[str, Any] | None) -> None:
    # FANCAMPAIGN_INSTANCE_PATH (or INSTANCE_PATH in test overrides) moves instance/: its
    # config.py, the SQLite database, the demo's secret key and uploads.
    path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(f"{ENV_PREFIX}_INSTANCE_PATH")
    if path:
        app.instance_path = str(Path(path).resolve())
        app.config.root_path = app.instance_path


DEVELOPMENT_BASE_URL = "http://localhost:5000"
# Development and tests without a BASE_URL of their own answer to this machine's names.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def _base_url_and_hosts(app: Flask) -> None:
    """Check BASE_URL (production refuses to start without one) and derive the host names
    requests may be addressed to: Werkzeug's TRUSTED_HOSTS answers any other with 400."""
    url = str(app.config.get("BASE_URL") or "").strip()
    defaults: tuple[str, ...] = ()
    if not url:
        if is_production(app):
            raise RuntimeError(
                "BASE_URL is not set. In production set FANCAMPAIGN_BASE_URL to the site's "
                "public address (for example: export FANCAMPAIGN_BASE_URL="
                "https://campaign.example.org): links in mail, feeds and the API are built "
                "from it. Or run `fancampaign demo` to try it out."
            )
        url, defaults = DEVELOPMENT_BASE_URL, LOOPBACK_HOSTS
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise RuntimeError(
            f"BASE_URL must be an http:// or https:// address such as "
            f"https://campaign.example.org, not {url!r}."
        )
    app.config["BASE_URL"] = url.rstrip("/")
    if app.config.get("TRUSTED_HOSTS") is None:  # set outright, it is taken as it is
        hosts = [parts.hostname, *defaults, *allowed_hosts(app.config.get("ALLOWED_HOSTS"))]
        app.config["TRUSTED_HOSTS"] = list(dict.fromkeys(hosts))


def allowed_hosts(value: Any) -> list[str]:
    """ALLOWED_HOSTS as a list of host names: from a list, or a string such as "a, b"."""
    if not value:
        return []
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    return [str(item).strip().lower() for item in items if str(item).strip()]


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill app.config in order: defaults, instance file, environment, test overrides."""
    _set_instance_path(app, test_config)
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    _env_overrides(app)
    if test_config:
        app.config.update(test_config)

    if not app.config.get("SECRET_KEY"):
        key_file = _secret_key_file(app)
        if app.config.get("DEMO"):
            app.config["SECRET_KEY"] = ensure_demo_secret_key(app.instance_path)
        elif key_file.exists():
            app.config["SECRET_KEY"] = key_file.read_text().strip()
        elif not is_production(app):
            app.config["SECRET_KEY"] = secrets.token_hex(32)
        else:
            raise RuntimeError(
                "SECRET_KEY is not set. In production set the SECRET_KEY environment variable "
                "(for example: export SECRET_KEY=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))')), or run `fancampaign demo` to try it out."
            )

    _base_url_and_hosts(app)
    _load_log_signing_key(app)

    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        db_path = Path(app.instance_path) / "fancampaign.db"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = str(Path(app.instance_path) / "uploads")
    if app.config.get("MAIL_SEND_IMMEDIATELY") is None:
        app.config["MAIL_SEND_IMMEDIATELY"] = bool(app.config.get("DEMO") or app.testing)

    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    secure = app.config.get("SECURE_COOKIES")
    if secure is None:
        secure = is_production(app)
    app.config["SESSION_COOKIE_SECURE"] = bool(secure)
    app.config["REMEMBER_COOKIE_SECURE"] = bool(secure)
