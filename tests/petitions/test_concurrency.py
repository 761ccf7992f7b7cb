"""Many people signing at once, through a real threaded server: the count stays exact."""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from fancampaign.extensions import db
from fancampaign.petitions.models import Signature
from tests.factories import make_petition, make_user

SIGNERS = 50
POOL = {"pool_size": 10, "max_overflow": 60, "pool_timeout": 60}


def session_cookie(app: Any, user: Any) -> str:
    """The signed Flask session cookie that logs `user` in (as Flask-Login stores it)."""
    serializer = app.session_interface.get_signing_serializer(app)
    value = serializer.dumps({"_user_id": user.get_id(), "_fresh": True})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


@pytest.fixture
def live(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(10)


def post(port: int, path: str, cookie: str, body: str = "") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.config(SERVER_NAME=None, SQLALCHEMY_ENGINE_OPTIONS=POOL)
def test_concurrent_signers_and_double_submits_keep_the_count_exact(app, live, count_rows):
    petition = make_petition(goal=1000)
    users = [make_user(commit=False) for _ in range(SIGNERS)]
    db.session.commit()
    cookies = [session_cookie(app, user) for user in users]
    path = f"/petitions/{petition.slug}/sign"
    jobs = [cookie for cookie in cookies for _twice in range(2)]  # every user double-submits
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []
    lock = threading.Lock()

    def run(cookie: str) -> None:
        barrier.wait()
        try:
            status = post(live, path, cookie, "reason=Now&country=GB&is_public=y")
        except Exception as exc:  # a dropped connection counts as a failure too
            status = f"error: {exc!r}"  # type: ignore[assignment]
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, args=(cookie,)) for cookie in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)

    assert Counter(statuses) == {303: 2 * SIGNERS}
    stored, rows = count_rows(petition)
    distinct = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Signature.user_id))).where(
            Signature.petition_id == petition.id
        )
    )
    assert stored == rows == distinct == SIGNERS


@pytest.mark.config(SERVER_NAME=None, SQLALCHEMY_ENGINE_OPTIONS=POOL)
def test_concurrent_sign_and_withdraw_keep_the_count_exact(app, live, count_rows):
    petition = make_petition(goal=1000)
    users = [make_user(commit=False) for _ in range(SIGNERS)]
    db.session.commit()
    cookies = [session_cookie(app, user) for user in users]
    sign = f"/petitions/{petition.slug}/sign"
    withdraw = f"/petitions/{petition.slug}/withdraw"
    jobs = [(sign, c) for c in cookies] + [(withdraw, c) for c in cookies[::2]]
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []

    def run(path: str, cookie: str) -> None:
        barrier.wait()
        statuses.append(post(live, path, cookie))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert set(statuses) == {303}
    stored, rows = count_rows(petition)
    assert stored == rows
    assert SIGNERS // 2 <= rows <= SIGNERS
