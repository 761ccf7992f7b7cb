"""A setting changed through one gunicorn worker shows on the next request to every worker.

Runs on the test database (SQLite, or PostgreSQL with TEST_DATABASE_URL), with the page cache
on (in Redis when it is reachable): neither a worker's copy of the settings nor a cached page
may show the old name or colour once the change is committed.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from tests.factories import make_user
from tests.helpers import REDIS_URL, _redis_up

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
PAGES = ("/", "/forum", "/petitions", "/news")

pytestmark = pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(base: str, method: str, path: str, cookie: str = "", body: str = "") -> tuple:
    """(status, body) of one request on a new connection (no redirects followed)."""
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _get(url: str, path: str, cookie: str = "") -> tuple[int, str]:
    return _request(url, "GET", path, cookie)


def _post(url: str, path: str, data: dict[str, str], cookie: str) -> int:
    return int(_request(url, "POST", path, cookie, urllib.parse.urlencode(data))[0])


@pytest.fixture
def workers(app, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """gunicorn with two sync workers on the test's database; (its URL, its access log)."""
    db.session.commit()
    port = _free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "FANCAMPAIGN_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "FANCAMPAIGN_DEMO": "true",
        "FANCAMPAIGN_SECURE_COOKIES": "false",
        "FANCAMPAIGN_WTF_CSRF_ENABLED": "false",
        "FANCAMPAIGN_RATELIMIT_ENABLED": "false",
        "FANCAMPAIGN_MAIL_BACKEND": "memory",
        "FANCAMPAIGN_BASE_URL": f"http://127.0.0.1:{port}",
        "FANCAMPAIGN_INSTANCE_PATH": str(tmp_path / "instance"),
        "FANCAMPAIGN_UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "FANCAMPAIGN_PAGE_CACHE_ENABLED": "true",
        "FANCAMPAIGN_PAGE_CACHE_PREFIX": f"fctest-workers-{os.getpid()}-{port}:",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if _redis_up():
        env["REDIS_URL"] = REDIS_URL
    errors = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "--workers=2",
            f"--bind=127.0.0.1:{port}",
            f"--access-logfile={log}",
            "--access-logformat=%(p)s %(m)s %(U)s %(s)s",
            "wsgi:app",
        ],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if _get(url, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text())
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=20)
        errors.close()
        shutil.rmtree(tmp_path / "instance", ignore_errors=True)


def _session_cookie(app, user) -> str:
    serializer = app.session_interface.get_signing_serializer(app)
    return "session=" + serializer.dumps({"_user_id": user.get_id(), "_fresh": True})


def _pids_serving(log: Path, after: int) -> set[str]:
    lines = log.read_text().splitlines()[after:]
    return {line.split()[0] for line in lines if " GET " in line}


def test_a_changed_setting_shows_on_every_worker_at_once(app, workers):
    url, log = workers
    admin = make_user("boss", role=Role.ADMIN)
    member = make_user("gally")
    admin_cookie, member_cookie = _session_cookie(app, admin), _session_cookie(app, member)
    # Every worker reads (and the cache keeps) the pages with the old settings first.
    for _ in range(10):
        for path in PAGES:
            status, page = _get(url, path)
            assert status == 200 and "Alita Army" not in page
    status = _post(
        url,
        "/admin/settings",
        {
            "site_name": "Alita Army",
            "accent_colour": "#1d70b8",
            "registration_open": "y",
            "held_first_posts": "0",
            "links_after_posts": "0",
        },
        admin_cookie,
    )
    assert status == 302
    seen = len(log.read_text().splitlines())
    for n in range(40):
        path = PAGES[n % len(PAGES)]
        for cookie in ("", member_cookie):
            status, page = _get(url, path, cookie)
            assert status == 200
            assert re.search(r"<title>[^<]*Alita Army</title>", page), (n, path, cookie)
            assert "/theme.css?v=" in page, (n, path)
    assert len(_pids_serving(log, seen)) == 2, "both workers answered after the change"
