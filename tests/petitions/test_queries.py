"""The petition page costs the same few queries with 10 or 100,000 signatures."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fancampaign.admin import sitesettings
from fancampaign.extensions import db, utcnow
from fancampaign.ledger import services as ledger
from fancampaign.petitions.models import Petition
from tests.factories import make_category, make_petition, make_user
from tests.helpers import count_queries


def bulk_sign(petition: Petition, n: int) -> None:
    """n confirmed anonymous signatures over 40 days in one INSERT ... SELECT; counter exact."""
    start = utcnow() - timedelta(days=40)
    params = {"pid": petition.id, "n": n, "start": start.timestamp(), "step": 40 * 86400 / n}
    columns = (
        "petition_id, name, country, reason, reason_hidden, is_public, keep_updated, "
        "confirmed_at, created_at"
    )
    values = (
        ":pid, '', CASE i % 8 WHEN 0 THEN 'GB' WHEN 1 THEN 'US' WHEN 2 THEN 'FR' "
        "WHEN 3 THEN 'DE' WHEN 4 THEN 'JP' WHEN 5 THEN 'BR' WHEN 6 THEN 'CA' END, "
        "CASE WHEN i % 50 = 0 THEN 'Because' ELSE '' END, false, i % 3 = 0, false, {ts}, {ts}"
    )
    if db.engine.dialect.name == "postgresql":
        ts = "to_timestamp(:start + i * :step)"
        sql = (
            f"INSERT INTO signatures ({columns}) SELECT {values.format(ts=ts)} "
            "FROM generate_series(0, :n - 1) AS i"
        )
    else:
        ts = "strftime('%Y-%m-%d %H:%M:%S', :start + i * :step, 'unixepoch') || '.000000'"
        sql = (
            f"INSERT INTO signatures ({columns}) "
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < :n - 1) "
            f"SELECT {values.format(ts=ts)} FROM seq"
        )
    db.session.execute(sa.text(sql), params)
    db.session.execute(
        sa.update(Petition).where(Petition.id == petition.id).values(signature_count=n)
    )
    db.session.commit()


def page_queries(client, petition: Petition) -> int:
    url = f"/petitions/{petition.slug}"
    db.session.expire_all()
    with count_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def test_petition_page_query_count_does_not_grow(app, client, login):
    make_category("petition-discussion")
    small = make_petition(goal=5000)
    large = make_petition(goal=5000)
    assert small.thread_id is not None
    bulk_sign(small, 10)
    started = time.monotonic()
    bulk_sign(large, 100_000)
    assert time.monotonic() - started < 30
    visitor = page_queries(client, small)
    # A fixed number: the page's own reads, the site settings' version check, the campaign
    # timeline and the top recruiters among them.
    assert page_queries(client, large) == visitor <= 12
    login(make_user())
    # Members add their login, the unread count and their own signature.
    member = page_queries(client, small)
    assert page_queries(client, large) == member <= 15
    html = client.get(f"/petitions/{large.slug}").get_data(as_text=True)
    assert "100,000" in html
    assert "United States" in html  # the top countries come from the rows


def sign_statements(client, login) -> list[list[str]]:
    """The statements of a member's one-click signature (BEGIN and COMMIT aside) on a new
    petition and on one with 100,000 signatures."""
    small = make_petition()
    large = make_petition()
    bulk_sign(large, 100_000)
    for petition in (small, large):
        ledger.salt_of(petition.id)
    db.session.commit()
    runs = []
    for petition in (small, large):
        login(make_user())
        url = f"/petitions/{petition.slug}/sign"
        db.session.expire_all()
        with count_queries() as statements:
            response = client.post(url, data={"country": "GB"})
        assert response.status_code == 303
        runs.append(
            [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))]
        )
    db.session.expire_all()
    assert (small.signature_count, large.signature_count) == (1, 100_001)
    return runs


def test_signing_is_three_statements_whatever_the_count(app, client, login):
    """One click: the login's query, which reads the petition's few columns too, then the
    signature, its count and its log entry together (one statement on PostgreSQL, whose
    entry brings back the petition's salt for the receipt; three on SQLite), and the commit;
    the same at 100,000. (The salt is made once, by the petition's first signature.) After
    the commit, one more: the member's share code, made unless they have one (`INSERT ... ON
    CONFLICT DO NOTHING`, no read)."""
    writes = (1 if db.engine.dialect.name == "postgresql" else 3) + 1
    for data in sign_statements(client, login):
        assert len(data) == 1 + writes, "\n".join(data)
        assert "FROM petitions" in data[0] and "FROM users" in data[0]


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_signing_with_rate_limits_reads_no_settings_row(app, client, login):
    """The signing limit is the admin console's setting: the site settings' version comes
    with the login's query, so the limits add no statement while the worker's copy is
    current."""
    with app.test_request_context():
        sitesettings.current()  # the worker's copy, as any earlier request leaves it
    writes = (1 if db.engine.dialect.name == "postgresql" else 3) + 1  # + the share code
    for data in sign_statements(client, login):
        assert len(data) == 1 + writes, "\n".join(data)
        assert not any("FROM site_settings" in s and "users" not in s for s in data)
