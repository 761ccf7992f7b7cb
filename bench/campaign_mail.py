"""Campaign mail at scale: queueing the "won" mail for a large petition, and the worker's send
rate to a local SMTP sink (aiosmtpd, in its own process).

    .venv/bin/python bench/campaign_mail.py --database sqlite:////tmp/campaign-bench.db
    .venv/bin/python bench/campaign_mail.py \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/<db> --signatures 300000

The database gets a fresh schema (everything in it is dropped) and one petition with
--signatures confirmed guest signatures, made by one INSERT ... SELECT as bench-data makes
its rows in bulk; 60% ask for updates (about the demo's share). It then measures:
- queueing: `campaign.mark_won` + commit (one INSERT ... SELECT of the mails): seconds, the
  Python heap's peak growth (tracemalloc) and the process's peak RSS growth;
- sending: the worker's `send_batch` against the sink for --send-seconds: messages/s.
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fancampaign import create_app  # noqa: E402
from fancampaign.accounts.models import Role  # noqa: E402
from fancampaign.accounts.services import register_user  # noqa: E402
from fancampaign.campaign import mailer  # noqa: E402
from fancampaign.campaign import services as campaign  # noqa: E402
from fancampaign.extensions import db, utcnow  # noqa: E402
from fancampaign.petitions.models import Petition, Signature  # noqa: E402
from fancampaign.petitions.services import create_petition  # noqa: E402

SINK = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"
c = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _fill(n: int) -> Petition:
    """A fresh schema and an open petition with n confirmed guest signatures."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    else:
        db.drop_all()
    db.create_all()
    organiser = register_user(
        "benchorg", "org@example.org", "a long bench password", role=Role.ORGANISER, confirmed=True
    )
    petition = create_petition(
        organiser,
        title="Bench petition with many signers",
        summary="A petition to measure the campaign mail.",
        body="",
        target="The studio",
        goal=1000,
    )
    db.session.commit()
    numbers = (
        sa.select(sa.func.generate_series(1, n).label("i")).subquery()
        if db.engine.dialect.name == "postgresql"
        else sa.text(
            f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {int(n)}) "
            "SELECT i FROM s) AS s"
        )
    )
    i = sa.literal_column("i")
    email = sa.literal("fan") + sa.cast(i, sa.String) + sa.literal("@example.net")
    rows = sa.select(
        sa.literal(petition.id),
        sa.literal("A fan ") + sa.cast(i, sa.String),
        email,
        email,
        (i % 5) < 3,
        sa.literal(utcnow(), Signature.__table__.c.created_at.type),
        sa.literal(utcnow(), Signature.__table__.c.confirmed_at.type),
    ).select_from(numbers)
    db.session.execute(
        sa.insert(Signature).from_select(
            [
                "petition_id",
                "name",
                "email",
                "email_normalised",
                "keep_updated",
                "created_at",
                "confirmed_at",
            ],
            rows,
        )
    )
    db.session.execute(
        sa.update(Petition).where(Petition.id == petition.id).values(signature_base=n)
    )
    db.session.commit()
    return db.session.get(Petition, petition.id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--signatures", type=int, default=300_000)
    parser.add_argument("--send-seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    port = _free_port()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database,
            "SECRET_KEY": "bench",
            "MAIL_BACKEND": "smtp",
            "MAIL_SMTP_HOST": "127.0.0.1",
            "MAIL_SMTP_PORT": port,
            "CAMPAIGN_MAIL_BATCH": args.batch,
            "CAMPAIGN_MAIL_PER_MINUTE": 10**9,
            "BASE_URL": "http://localhost",
        }
    )
    with app.app_context():
        started = time.perf_counter()
        petition = _fill(args.signatures)
        print(
            f"{db.engine.dialect.name}: {args.signatures:,} signatures made in "
            f"{time.perf_counter() - started:.1f} s"
        )
        organiser = petition.creator
        rss_before = _rss_kb()
        tracemalloc.start()
        started = time.perf_counter()
        event = campaign.mark_won(organiser, petition, "The studio said yes. Thank you all!")
        db.session.commit()
        seconds = time.perf_counter() - started
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"queue the won mail: {event.mailed:,} mails in {seconds:.2f} s; "
            f"Python heap peak {peak / 1024:.0f} KiB; "
            f"RSS growth {(_rss_kb() - rss_before) / 1024:.1f} MiB"
        )
        sink = subprocess.Popen(
            [sys.executable, "-c", SINK, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
            sent = 0
            started = time.perf_counter()
            while time.perf_counter() - started < args.send_seconds:
                n, failed = mailer.send_batch()
                assert failed == 0
                if not n:
                    break
                sent += n
            seconds = time.perf_counter() - started
        finally:
            sink.communicate("", timeout=30)
        print(
            f"send: {sent:,} mails in {seconds:.2f} s = {sent / seconds:,.0f} messages/s "
            f"(batch {args.batch})"
        )


if __name__ == "__main__":
    main()
