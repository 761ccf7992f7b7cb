"""The campaign mail worker against a real SMTP server (aiosmtpd): an unreachable server keeps
every mail queued until it is back, and two worker processes never send the same mail."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from fancampaign.campaign import mailer
from fancampaign.campaign import services as campaign
from fancampaign.campaign.models import CampaignMail
from fancampaign.extensions import db
from tests.campaign.conftest import Signers, sign_guest

ROOT = Path(__file__).resolve().parents[2]


class Sink:
    """An SMTP server that keeps every recipient it is handed."""

    def __init__(self) -> None:
        self.recipients: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self.lock:
            self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_port(app: Any) -> int:
    port = _free_port()
    app.config.update(
        MAIL_BACKEND="smtp",
        MAIL_SMTP_HOST="127.0.0.1",
        MAIL_SMTP_PORT=port,
        CAMPAIGN_MAIL_RETRY_SECONDS=0,
    )
    return port


def _start_sink(port: int) -> tuple[Controller, Sink]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, sink


def _more_signers(signers: Signers, n: int) -> list[str]:
    emails = [f"fan{i}@example.net" for i in range(n)]
    for email in emails:
        sign_guest(signers.petition, email, keep_updated=True)
    db.session.commit()
    return emails


def _states() -> Counter[str]:
    rows = db.session.execute(sa.select(CampaignMail.sent_at, CampaignMail.failed_at))
    return Counter("sent" if s else "failed" if f else "queued" for s, f in rows)


def test_with_smtp_unreachable_every_mail_stays_queued_then_goes_once(
    signers: Signers, smtp_port: int
) -> None:
    _more_signers(signers, 8)
    campaign.mark_won(signers.organiser, signers.petition, "We won!")
    campaign.record_delivery(
        signers.organiser,
        signers.petition,
        campaign.DeliveryInput("The studio", None, "email", "", False),
    )
    db.session.commit()
    for _ in range(3):  # the server is down: nothing is lost, nothing given up
        assert mailer.send_batch()[0] == 0
        db.session.expire_all()
        assert _states() == {"queued": 20}
    controller, sink = _start_sink(smtp_port)
    try:
        while mailer.send_batch()[0]:
            pass
    finally:
        controller.stop()
    assert _states() == {"sent": 20}
    counts = Counter(sink.recipients)
    assert len(counts) == 10 and set(counts.values()) == {2}  # two events, once each


WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fancampaign import create_app
    from fancampaign.campaign import mailer
    from tests.conftest import make_config

    overrides = dict(
        SQLALCHEMY_DATABASE_URI=sys.argv[1], MAIL_BACKEND="smtp", MAIL_SMTP_HOST="127.0.0.1",
        MAIL_SMTP_PORT=int(sys.argv[2]), CAMPAIGN_MAIL_BATCH=7, CAMPAIGN_MAIL_PER_MINUTE=100000,
    )
    app = create_app(make_config(Path(sys.argv[3]), **overrides))
    with app.app_context():
        sent = 0
        while True:
            n, _failed = mailer.send_batch()
            if not n and not mailer.pending():
                break
            sent += n
        print(sent)
    """
)


def test_two_worker_processes_never_send_the_same_mail(
    app: Any, signers: Signers, smtp_port: int, tmp_path: Path
) -> None:
    emails = _more_signers(signers, 60)
    campaign.mark_won(signers.organiser, signers.petition, "We won!")
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    controller, sink = _start_sink(smtp_port)
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, url, str(smtp_port), str(tmp_path / f"w{n}")],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(2)
        ]
        outputs = [w.communicate(timeout=240) for w in workers]
    finally:
        controller.stop()
    assert [w.returncode for w in workers] == [0, 0], outputs
    per_worker = [int(out.strip().splitlines()[-1]) for out, _err in outputs]
    assert sum(per_worker) == 62
    assert sorted(sink.recipients) == sorted([*emails, "gwen@example.org", "mel@example.com"])
    db.session.expire_all()
    assert _states() == {"sent": 62}


def test_the_background_worker_sends_and_stops(
    app: Any, signers: Signers, outbox: list[Any]
) -> None:
    campaign.mark_won(signers.organiser, signers.petition, "We won!")
    db.session.commit()
    outbox.clear()
    worker = mailer.BackgroundWorker(app, interval=0.05).start()
    try:
        for _ in range(200):
            if len([m for m in outbox if "List-Unsubscribe" in m]) == 2:
                break
            worker.stopping.wait(0.05)
    finally:
        worker.stop()
    assert not worker.thread.is_alive()
    campaign_mail = [m["To"] for m in outbox if "List-Unsubscribe" in m]
    assert sorted(campaign_mail) == ["gwen@example.org", "mel@example.com"]
