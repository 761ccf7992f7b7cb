"""The verifier outside the app: against the demo served from a subprocess, and tampering.

The demo test is what CI runs: start `fancampaign demo`, sign as a demo member, run
`fancampaign verify-log` (success) and tools/verify_log.py (success), then alter rows under
the log and see both fail with a clear message.
"""

from __future__ import annotations

import ast
import http.cookiejar
import json
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fancampaign import ROOT
from fancampaign.extensions import db
from fancampaign.ledger import verifier
from fancampaign.ledger.models import Checkpoint, LogEntry
from fancampaign.petitions import services
from fancampaign.petitions.models import PetitionCounterSlot
from tests.factories import make_petition, make_user

TOOL = ROOT / "tools" / "verify_log.py"
FANCAMPAIGN = Path(sys.executable).parent / "fancampaign"


def test_the_standalone_tool_is_the_verifier_and_needs_nothing_of_the_app():
    # One file, not a copy: tools/verify_log.py is a link to the app's verifier.
    assert TOOL.resolve() == (ROOT / "fancampaign" / "ledger" / "verifier.py").resolve()
    source = TOOL.read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"cryptography", "__future__"}


# In process: the verifier's requests go to the test client -----------------------------------


@pytest.fixture
def through_client(client, monkeypatch) -> None:
    def get(url: str, *, accept: str = "application/json") -> bytes:
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = client.get(path, headers={"Accept": accept})
        if response.status_code != 200:
            raise verifier.VerificationFailed(f"{url} answered HTTP {response.status_code}.")
        return response.data

    monkeypatch.setattr(verifier, "_get", get)


def signed_petition(n: int = 6) -> Any:
    petition = make_petition()
    users = [make_user(commit=False) for _ in range(n)]
    for user in users:
        services.sign_petition(user, petition)
    services.withdraw_signature(users[0], petition)
    db.session.commit()
    return petition


def check(petition) -> str:
    return verifier.verify_site(f"http://localhost/petitions/{petition.slug}", wait=False)


@pytest.mark.config(LOG_CHECKPOINT_INTERVAL=0)
def test_an_untouched_log_verifies(app, through_client):
    petition = signed_petition()
    assert check(petition).startswith("OK: 1 checkpoint(s)")
    services.sign_petition(make_user(), petition)
    db.session.commit()
    assert "OK: 2 checkpoint(s) signed and consistent; every leaf rebuilt" in check(petition)


def test_an_inflated_count_is_caught(app, through_client):
    petition = signed_petition()
    check(petition)
    db.session.execute(
        sa.update(PetitionCounterSlot)
        .where(PetitionCounterSlot.petition_id == petition.id)
        .values(count=PetitionCounterSlot.count + 100)
    )
    db.session.commit()
    with pytest.raises(
        verifier.VerificationFailed,
        match=r"shows \d+ signatures, but the latest checkpoint .* stands at 5\.",
    ):
        check(petition)


def test_a_deleted_leaf_is_caught(app, through_client):
    petition = signed_petition()
    check(petition)
    db.session.execute(
        sa.delete(LogEntry).where(LogEntry.petition_id == petition.id, LogEntry.leaf_index == 2)
    )
    db.session.commit()
    with pytest.raises(verifier.VerificationFailed, match="Leaf 2 is missing"):
        check(petition)


def test_a_rewritten_leaf_is_caught(app, through_client):
    petition = signed_petition()
    check(petition)
    db.session.execute(
        sa.update(LogEntry)
        .where(LogEntry.petition_id == petition.id, LogEntry.leaf_index == 3)
        .values(leaf_hash=b"\x11" * 32)
    )
    db.session.commit()
    with pytest.raises(verifier.VerificationFailed, match="Leaf 3's hash is not"):
        check(petition)


def test_an_altered_checkpoint_is_caught(app, through_client):
    petition = signed_petition()
    check(petition)
    db.session.execute(
        sa.update(Checkpoint)
        .where(Checkpoint.petition_id == petition.id)
        .values(standing_count=Checkpoint.standing_count + 1)
    )
    db.session.commit()
    with pytest.raises(verifier.VerificationFailed, match="signature does not match"):
        check(petition)


@pytest.mark.config(LOG_CHECKPOINT_INTERVAL=0)
def test_a_rewritten_history_is_caught_by_the_consistency_proof(app, through_client):
    petition = signed_petition()
    check(petition)
    first = db.session.scalar(sa.select(Checkpoint).where(Checkpoint.petition_id == petition.id))
    services.sign_petition(make_user(), petition)
    db.session.commit()
    check(petition)
    # Someone re-signs the old checkpoint with another root (as with a stolen key): the new
    # tree does not extend it.
    from fancampaign.ledger import services as ledger
    from fancampaign.ledger.verifier import checkpoint_text

    forged = b"\x22" * 32
    first.root_hash = forged
    first.signature = ledger.signing_key().sign(
        checkpoint_text(
            petition.id,
            first.tree_size,
            forged,
            first.standing_count,
            first.created_at_text,
            first.event,
        )
    )
    db.session.commit()
    with pytest.raises(verifier.VerificationFailed, match="does not extend checkpoint 1"):
        check(petition)


# Against the demo in a subprocess -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    instance = tmp_path / "instance"
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "FANCAMPAIGN_INSTANCE_PATH": str(instance),
        "FANCAMPAIGN_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
        "HOME": str(tmp_path),
    }
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        [str(FANCAMPAIGN), "demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "the demo did not start"
                time.sleep(0.3)
        yield url, instance
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def _sign_as_a_demo_member(url: str, instance: Path, slug: str) -> None:
    """Log in as each demo account in turn until one signs the petition for the first time."""
    count = _api_count(url, slug)
    for line in (instance / "demo-accounts.txt").read_text().splitlines():
        username, password = line.split()
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = browser.open(f"{url}/login").read().decode()
        form = {"csrf_token": _csrf(page), "login": username, "password": password}
        browser.open(f"{url}/login", urllib.parse.urlencode(form).encode())
        page = browser.open(f"{url}/petitions/{slug}").read().decode()
        browser.open(
            f"{url}/petitions/{slug}/sign",
            urllib.parse.urlencode({"csrf_token": _csrf(page)}).encode(),
        )
        if _api_count(url, slug) == count + 1:
            return
    raise AssertionError("no demo account could sign")


def _api_count(url: str, slug: str) -> int:
    with urllib.request.urlopen(f"{url}/api/v1/petitions/{slug}") as response:  # noqa: S310
        return json.load(response)["signature_count"]


def _verify(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_verify_log_against_the_demo_passes_then_catches_altered_rows(demo):
    url, instance = demo
    with urllib.request.urlopen(f"{url}/api/v1/petitions?status=open") as response:  # noqa: S310
        slug = json.load(response)["items"][0]["slug"]
    _sign_as_a_demo_member(url, instance, slug)
    petition_url = f"{url}/petitions/{slug}"

    ok = _verify(str(FANCAMPAIGN), "verify-log", "--no-wait", petition_url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: 1 checkpoint(s) signed and consistent; every leaf rebuilt")
    standalone = _verify(sys.executable, "-I", str(TOOL), "--no-wait", petition_url)
    assert standalone.returncode == 0, standalone.stderr

    database = sqlite3.connect(instance / "fancampaign.db")
    with database:
        database.execute(
            "UPDATE log_entries SET leaf_hash = ? WHERE leaf_index = 1 AND petition_id = "
            "(SELECT id FROM petitions WHERE slug = ?)",
            (b"\x33" * 32, slug),
        )
    failed = _verify(str(FANCAMPAIGN), "verify-log", "--no-wait", petition_url)
    assert failed.returncode == 1
    assert "FAILED: Leaf 1's hash is not that of its contents." in failed.stderr
    standalone = _verify(sys.executable, "-I", str(TOOL), "--no-wait", petition_url)
    assert standalone.returncode == 1 and "Leaf 1's hash" in standalone.stderr

    with database:
        database.execute("UPDATE log_checkpoints SET standing_count = standing_count + 50")
    failed = _verify(str(FANCAMPAIGN), "verify-log", "--no-wait", "--quick", petition_url)
    assert failed.returncode == 1
    assert "the signature does not match its contents" in failed.stderr
    database.close()
