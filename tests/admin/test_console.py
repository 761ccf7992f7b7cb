"""Categories under /admin (logged), the mail outbox's states and resending a failed one."""

from __future__ import annotations

import sqlalchemy as sa

from fancampaign.extensions import db, utcnow
from fancampaign.mail.models import OutboxMessage
from fancampaign.mail.services import queue_email
from fancampaign.moderation.models import ModerationAction
from tests.factories import make_category


def actions(name: str) -> list[ModerationAction]:
    return list(
        db.session.scalars(sa.select(ModerationAction).where(ModerationAction.action == name))
    )


def test_categories_live_under_admin_and_changes_are_logged(client, login, admin):
    login(admin)
    old = client.get("/forum/categories")
    assert old.status_code == 301 and old.headers["Location"].endswith("/admin/categories")
    assert client.post("/admin/categories", data={"name": "Fan art"}).status_code == 302
    (added,) = actions("add_category")
    assert added.moderator_id == admin.id and added.target_label == "Fan art"
    page = client.get("/admin/categories").get_data(as_text=True)
    assert 'aria-label="Admin console"' in page


def test_the_console_links_the_watched_words(client, login, admin):
    login(admin)
    assert "/moderation/words" in client.get("/admin/").get_data(as_text=True)


def _failed(subject: str = "Confirm your email address") -> OutboxMessage:
    message = queue_email("gally@example.com", subject, "Body")
    message.attempts, message.failed_at = 8, utcnow()
    message.last_error = "SMTPServerDisconnected: gone"
    db.session.commit()
    return message


def test_the_outbox_counts_queued_retried_failed_and_sent(client, login, admin, app):
    app.config["MAIL_SEND_IMMEDIATELY"] = False
    login(admin)
    queue_email("a@example.com", "Waiting", "x")
    retrying = queue_email("b@example.com", "Retrying", "x")
    retrying.attempts = 2
    _failed()
    db.session.commit()
    from fancampaign.admin.services import mail_counts

    counts = mail_counts()
    assert (counts["queued"], counts["retrying"], counts["failed"]) == (1, 1, 1)
    page = client.get("/admin/mail?state=failed").get_data(as_text=True)
    assert "SMTPServerDisconnected" in page and "Send again" in page
    assert client.get("/admin/mail?state=nonsense").status_code == 404


def test_a_failed_message_is_sent_again_and_logged(client, login, admin, outbox):
    login(admin)
    message = _failed()
    outbox.clear()
    response = client.post(f"/admin/mail/{message.id}/resend")
    assert response.status_code == 302
    db.session.expire_all()
    message = db.session.get(OutboxMessage, message.id)
    assert message.failed_at is None and message.sent_at is not None
    assert [m["Subject"] for m in outbox] == ["Confirm your email address"]
    assert len(actions("resend_mail")) == 1
    # Sent now: nothing to resend.
    assert client.post(f"/admin/mail/{message.id}/resend").status_code == 403


def test_only_admins_see_the_outbox(client, login, moderator):
    login(moderator)
    assert client.get("/admin/mail").status_code == 403
    make_category()
    assert client.get("/admin/categories").status_code == 403
