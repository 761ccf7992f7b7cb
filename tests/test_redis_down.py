"""Redis going away mid-run: writes and the API keep answering, rate limits move to this
process's memory (still enforced, said once in the log) and back to Redis when it returns.

The test starts its own Redis on a private port and stops it: never the shared one.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from fancampaign.pagecache import outage
from tests.factories import PASSWORD, make_petition, make_thread, make_user

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not on PATH"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT = _free_port()
URL = f"redis://127.0.0.1:{PORT}/2"
# Nothing saved to disk: a restart comes back empty.
SERVER_COMMAND = ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1"]
SERVER_COMMAND += ["--save", "", "--appendonly", "no"]
FALLING_BACK = "Rate limit storage unreachable"


class PrivateRedis:
    """A throwaway redis-server on PORT, with nothing saved to disk."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.client = redis.Redis.from_url(URL, socket_timeout=1, socket_connect_timeout=1)

    def start(self) -> None:
        self.process = subprocess.Popen(
            SERVER_COMMAND,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def limit_keys(self) -> list[bytes]:
        return [key for key in self.client.keys("*") if b"LIMITS" in key]


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.client.close()


def _writes(client: Any, petition: Any, thread: Any) -> list[tuple[str, int]]:
    """One of each write the outage broke, and a cached page read; (what, status) pairs."""
    reply = f"/forum/t/{thread.id}/reply"
    return [
        ("login", client.post("/login", data={"login": "ana", "password": PASSWORD}).status_code),
        ("sign", client.post(f"/petitions/{petition.slug}/sign", data={}).status_code),
        ("withdraw", client.post(f"/petitions/{petition.slug}/withdraw").status_code),
        ("reply", client.post(reply, data={"body": "Still here."}).status_code),
        ("api", client.get("/api/v1/petitions").status_code),
        ("page", client.get(f"/petitions/{petition.slug}").status_code),
    ]


API_LIMIT = 8


@pytest.mark.usefixtures("private_redis")
@pytest.mark.config(
    REDIS_URL=URL,
    RATELIMIT_ENABLED=True,
    RATELIMIT_STORAGE_URI=URL,
    RATELIMIT_API=f"{API_LIMIT} per minute",
    PAGE_CACHE_ENABLED=True,
    PAGE_CACHE_PREFIX="redis-down-test:",
)
def test_rate_limits_degrade_when_redis_is_down(app, private_redis, caplog, monkeypatch):
    make_user("ana")
    petition = make_petition()
    thread = make_thread()
    anonymous = app.test_client()
    member = app.test_client()

    before = _writes(member, petition, thread)
    assert all(status < 500 for _what, status in before), before
    assert private_redis.limit_keys(), "the limits were counted in Redis"

    private_redis.stop()
    monkeypatch.setitem(outage._failures, "reported_at", float("-inf"))  # none reported before
    with caplog.at_level(logging.DEBUG):
        during = _writes(member, petition, thread) + _writes(anonymous, petition, thread)
        assert all(status < 500 for _what, status in during), during
        assert ("page", 200) in during
        # Still enforced, now from this process's memory: the API limit counts from zero there.
        api = [anonymous.get("/api/v1/petitions").status_code for _ in range(API_LIMIT)]
        assert 429 in api and set(api) <= {200, 429}
        assert anonymous.get("/api/v1/petitions").status_code == 429
    warnings = [r for r in caplog.records if FALLING_BACK in r.getMessage()]
    assert len(warnings) == 1, "said once, not per request"
    cache = [r for r in caplog.records if r.name.startswith("fancampaign.pagecache")]
    loud = [r for r in cache if r.levelno >= logging.WARNING]
    # (On SQLite each worker's own copies serve the pages stored before: Redis is barely asked.)
    assert len(loud) <= 1, "the page cache says it once a minute, not per request"

    private_redis.start()
    caplog.clear()
    deadline = time.monotonic() + 20
    with caplog.at_level(logging.INFO):
        # Flask-Limiter probes Redis with backoff (1 s, 2 s, 4 s ... apart) on limited requests.
        while not private_redis.limit_keys():
            assert time.monotonic() < deadline, "the limits never went back to Redis"
            assert member.get("/api/v1/petitions").status_code in (200, 429)
            time.sleep(0.2)
    assert any("recovered" in r.getMessage() for r in caplog.records)
    # Redis came back empty: its fresh count, not the memory one, decides again.
    assert anonymous.get("/api/v1/petitions").status_code == 200
    after = _writes(member, petition, thread)
    assert all(status < 500 for _what, status in after), after


def test_the_page_cache_reports_a_redis_outage_once_a_minute_with_a_count(monkeypatch, caplog):
    """Every request finds Redis down while it is: the first failure is logged with its
    traceback, the next ones quietly, then one line a minute saying how many there were."""
    now = [1000.0]
    monkeypatch.setattr(outage.time, "monotonic", lambda: now[0])
    monkeypatch.setitem(outage._failures, "reported_at", float("-inf"))
    monkeypatch.setitem(outage._failures, "since", 0)

    def fail(times: int) -> None:
        for _ in range(times):
            try:
                raise redis.exceptions.ConnectionError("Connection refused")
            except redis.exceptions.ConnectionError:
                outage.report("Redis unavailable")

    with caplog.at_level(logging.WARNING, logger="fancampaign.pagecache"):
        fail(10)
        now[0] += 30
        fail(5)
        now[0] += 31
        fail(1)
    loud = [r for r in caplog.records if r.name == "fancampaign.pagecache"]
    assert [r.getMessage() for r in loud] == [
        "page cache: Redis unavailable",
        "page cache: Redis unavailable (14 more failures since the last report)",
    ]
    assert all(r.exc_info is not None for r in loud)
