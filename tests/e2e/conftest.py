"""Browser tests: a real server process on the test database, driven by Playwright + Chromium.

Fixtures (a stable API other areas rely on):

- ``live_server``: the app served by werkzeug (threaded) in a subprocess, on the database the
  test's ``app`` fixture prepared. ``.url`` is its base URL (no trailing slash),
  ``.mail_log()`` the server's whole console output so far (printed emails included),
  ``.links(pattern)`` the links found in printed emails whose URL matches ``pattern`` (a regex),
  oldest first, ``.emails()`` the printed emails as strings. Create test data with
  ``tests.factories.make_user`` (committed) before or after starting the server.
- ``browser`` (session): headless Debian Chromium. ``page`` (function): a fresh context with a
  1280x900 viewport. ``screenshot(name)`` saves a PNG of ``page`` under ``tmp_path`` and
  returns its path.

Every test in tests/e2e is marked ``e2e`` and skipped when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 900}
STARTUP_TIMEOUT = 30.0

EMAIL_START = "----- email -----"
EMAIL_END = "----- end of email -----"

SERVER_SCRIPT = """
import os, sys
from werkzeug.serving import make_server
from fancampaign import create_app

app = create_app()
server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
print(f"live server on {sys.argv[1]}", flush=True)
server.serve_forever()
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt install chromium)")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if not CHROMIUM.exists():
                item.add_marker(skip)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A running server process; see the module docstring."""

    def __init__(self, url: str, log_path: Path, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.log_path = log_path
        self.process = process

    def mail_log(self) -> str:
        """Everything the server printed so far (emails are printed whole by the console mail)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def emails(self) -> list[str]:
        """The printed emails, oldest first."""
        pattern = re.escape(EMAIL_START) + r"\n(.*?)" + re.escape(EMAIL_END)
        return re.findall(pattern, self.mail_log(), flags=re.S)

    def links(self, pattern: str = "") -> list[str]:
        """Links in the printed emails whose URL matches ``pattern`` (oldest first, no repeats)."""
        found: list[str] = []
        for email in self.emails():
            for link in re.findall(r"https?://[^\s<>\"']+", email):
                link = link.rstrip(".,;)")
                if re.search(pattern, link) and link not in found:
                    found.append(link)
        return found

    def wait_for_link(self, pattern: str, timeout: float = 10.0) -> str:
        """The newest matching link, waiting for the mail to be printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = self.links(pattern)
            if links:
                return links[-1]
            time.sleep(0.1)
        raise AssertionError(f"no link matching {pattern!r} in the mail log:\n{self.mail_log()}")

    def __str__(self) -> str:
        return self.url


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the live server exited at start-up:\n{server.mail_log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the live server did not answer /healthz:\n{server.mail_log()}")


@contextmanager
def serve(app: Flask, directory: Path, port: int | None = None) -> Iterator[LiveServer]:
    """Serve `app`'s database from a subprocess (console mail, real CSRF) until the block ends."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FANCAMPAIGN_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "FANCAMPAIGN_MAIL_BACKEND": "console",
        "FANCAMPAIGN_MAIL_SEND_IMMEDIATELY": "true",
        "FANCAMPAIGN_TESTING": "true",
        "FANCAMPAIGN_RATELIMIT_ENABLED": "false",
        "FANCAMPAIGN_WTF_CSRF_ENABLED": "true",
        "FANCAMPAIGN_BASE_URL": url,
        "FANCAMPAIGN_UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    log_path = directory / "live-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT, str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(directory),
        )
        server = LiveServer(url, log_path, process)
        try:
            _wait_until_up(server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def live_server(app: Flask, tmp_path: Path) -> Iterator[LiveServer]:
    """The app in a subprocess on the test's database, with console mail and real CSRF."""
    from fancampaign.extensions import db

    db.session.commit()  # whatever the test made so far is visible to the server
    try:
        with serve(app, tmp_path) as server:
            yield server
    finally:
        db.session.remove()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot(page: Any, tmp_path: Path) -> Callable[[str], Path]:
    """screenshot(name) saves the page (full length) as tmp_path/<name>.png."""

    def _screenshot(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _screenshot
