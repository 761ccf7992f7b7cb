"""The public moderation ledger: its counts are the audit log's, and it names nobody."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.extensions import db
from fancampaign.moderation import ledger
from fancampaign.moderation.models import ModerationAction
from fancampaign.moderation.services import (
    delete_item,
    get_item,
    hide_item,
    report_item,
    restore_item,
    sanction_user,
)
from tests.factories import make_category, make_reply, make_thread, make_user

SECRET_WORDS = ("Vectorial", "Zalemite", "Hugo's betrayal", "Nova's motorball", "Desty")


def _history():
    """Decisions of every kind, about people and posts with names nobody should see."""
    moderator = make_user("desty_mod", role=Role.MODERATOR, display_name="Desty Nova")
    author = make_user("vectorial", display_name="Vectorial")
    bystander = make_user("zalemite", display_name="Zalemite")
    reporter = make_user("reporter")
    thread = make_thread(author, make_category(), title="Hugo's betrayal")
    post = make_reply(author, thread, "Nova's motorball secrets, spoiled.")
    other = make_reply(bystander, thread, "Off topic rambling about Zalemite.")
    report_item(reporter, "post", post.id, "abuse")
    report_item(reporter, "post", other.id, "off-topic")
    db.session.commit()
    hide_item(moderator, get_item("post", post.id), "Vectorial: Hugo's betrayal is abusive")
    restore_item(moderator, get_item("post", post.id), "On reflection, fine")
    delete_item(moderator, get_item("post", other.id), "Zalemite went off topic")
    sanction_user(moderator, bystander, "warn", "Zalemite, stay on topic")
    sanction_user(moderator, bystander, "suspend", "Again", period="1d")
    sanction_user(moderator, author, "ban", "Vectorial banned")
    db.session.commit()
    return moderator, author, bystander


def test_the_ledgers_counts_equal_the_audit_logs(app):
    _history()
    expected: Counter[tuple[str, str, str]] = Counter()
    for row in db.session.scalars(sa.select(ModerationAction)):
        if row.action in ledger.OUTCOME_OF:
            month = row.created_at.strftime("%Y-%m")
            expected[(month, row.reason_code, ledger.OUTCOME_OF[row.action])] += 1
    shown: Counter[tuple[str, str, str]] = Counter()
    for month in ledger.monthly():
        for code, counts in month.counts.items():
            for outcome, n in counts.items():
                shown[(month.month, code, outcome)] += n
    assert shown == expected
    assert sum(expected.values()) == 6
    assert {code for _m, code, _o in expected} == {"abuse", "off-topic"}


def test_reason_codes_come_from_the_reports_behind_a_decision(app):
    _history()
    codes = dict(
        db.session.execute(
            sa.select(ModerationAction.action, ModerationAction.reason_code).where(
                ModerationAction.action.in_(("hide", "delete", "warn"))
            )
        ).all()
    )
    assert codes == {"hide": "abuse", "delete": "off-topic", "warn": "off-topic"}


def test_the_ledger_names_nobody_and_quotes_nothing(client):
    moderator, author, bystander = _history()
    page = client.get("/moderation/transparency")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for word in (*SECRET_WORDS, moderator.username, author.username, bystander.username):
        assert word.lower() not in text.lower(), word
    assert "A post hidden" in text and "An account banned" in text
    assert "Abuse or harassment" in text


def test_the_author_sees_their_own_decisions_in_full(client, login):
    _moderator, _author, bystander = _history()
    login(bystander)
    text = client.get("/moderation/transparency").get_data(as_text=True)
    assert "Zalemite went off topic" in text and "Zalemite, stay on topic" in text
    # Not somebody else's.
    assert "Vectorial banned" not in text and "is abusive" not in text


def test_staff_only_details_never_show(client, login, app):
    _moderator, _author, bystander = _history()
    login(bystander)
    text = client.get("/moderation/transparency").get_data(as_text=True)
    details = [
        row.details
        for row in db.session.scalars(
            sa.select(ModerationAction).where(ModerationAction.target_user_id == bystander.id)
        )
        if row.details
    ]
    assert details, "the suspension's log row has details (its end)"
    assert all(d not in text for d in details)
