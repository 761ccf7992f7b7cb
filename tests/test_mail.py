"""Outgoing mail: queued in the caller's transaction, sent after commit or by the worker."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from flask import Flask

from fancampaign.cli import main
from fancampaign.errors import InvalidInput
from fancampaign.extensions import db, utcnow
from fancampaign.mail.models import OutboxMessage
from fancampaign.mail.services import queue_email, send_due
from tests.factories import make_user

# A tiny SMTP server ---------------------------------------------------------------------


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: greets, accepts one message per DATA, stores it."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        server: SMTPServer = self.server  # type: ignore[assignment]
        self.reply("220 localhost test SMTP")
        envelope: dict[str, object] = {"rcpt": []}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb == "MAIL":
                envelope = {"from": command[10:], "rcpt": []}
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["rcpt"].append(command[8:])  # type: ignore[union-attr]
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                server.received.append({**envelope, "data": data})
                self.reply("250 OK queued")
            elif verb == "RSET" or verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Not implemented")


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SMTPHandler)
        self.received: list[dict[str, object]] = []


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def use_smtp(app: Flask, port: int) -> None:
    app.config.update(MAIL_BACKEND="smtp", MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=port)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


LONG_LINK = "http://localhost/confirm/" + "x" * 150


# Queueing -------------------------------------------------------------------------------


def test_queue_email_stores_a_message_in_the_callers_transaction(app, outbox):
    queue_email("fan@example.com", "Hello", "Body")
    assert [m.to for m in rows()] == ["fan@example.com"]
    db.session.rollback()
    assert rows() == []
    assert outbox == []


def test_a_dedupe_key_queues_a_message_once(app):
    first = queue_email("fan@example.com", "Update", "One", dedupe_key="update:1:1")
    again = queue_email("fan@example.com", "Update", "Two", dedupe_key="update:1:1")
    assert first.id == again.id
    assert len(rows()) == 1


def test_the_worker_sends_what_is_due_and_marks_it_sent(app, outbox):
    queue_email("fan@example.com", "Hello", "Body")
    db.session.commit()
    assert send_due() == (1, 0)
    (row,) = rows()
    assert row.sent_at is not None
    assert row.attempts == 1
    assert [m["To"] for m in outbox] == ["fan@example.com"]
    assert send_due() == (0, 0)


def test_the_worker_command_sends_queued_mail(app, runner, outbox):
    queue_email("fan@example.com", "Hello", "Body")
    db.session.commit()
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0" in result.output
    assert [m["Subject"] for m in outbox] == ["Hello"]


# Sent after the request commits, never when it rolls back --------------------------------


@pytest.fixture
def mail_routes(app: Flask) -> Flask:
    def commits():
        queue_email("fan@example.com", "Committed", "Body")
        db.session.commit()
        return "ok"

    def fails():
        queue_email("fan@example.com", "Rolled back", "Body")
        raise InvalidInput("No.")

    def rolls_back_then_commits():
        queue_email("fan@example.com", "Rolled back", "Body")
        db.session.rollback()
        queue_email("fan@example.com", "Second try", "Body")
        db.session.commit()
        return "ok"

    def never_commits():
        queue_email("fan@example.com", "Never committed", "Body")
        return "ok"

    for view in (commits, fails, rolls_back_then_commits, never_commits):
        app.add_url_rule(f"/_mail/{view.__name__}", view.__name__, view, methods=["POST"])
    return app


def test_mail_queued_by_a_committed_request_is_sent_at_once(mail_routes, client, outbox):
    assert client.post("/_mail/commits").status_code == 200
    assert [m["Subject"] for m in outbox] == ["Committed"]
    assert rows()[0].sent_at is not None


def test_a_request_that_fails_sends_nothing_and_stores_nothing(mail_routes, client, outbox):
    response = client.post("/_mail/fails")
    assert response.status_code == 400
    assert outbox == []
    db.session.rollback()
    assert rows() == []


def test_only_the_committed_part_of_a_request_is_sent(mail_routes, client, outbox):
    assert client.post("/_mail/rolls_back_then_commits").status_code == 200
    assert [m["Subject"] for m in outbox] == ["Second try"]
    assert [m.subject for m in rows()] == ["Second try"]


def test_a_request_that_never_commits_sends_nothing(mail_routes, client, outbox):
    assert client.post("/_mail/never_commits").status_code == 200
    assert outbox == []
    db.session.rollback()
    assert rows() == []


@pytest.mark.config(MAIL_SEND_IMMEDIATELY=False)
def test_without_immediate_sending_mail_waits_for_the_worker(mail_routes, client, outbox):
    client.post("/_mail/commits")
    assert outbox == []
    assert rows()[0].sent_at is None
    assert send_due() == (1, 0)
    assert len(outbox) == 1


def test_mail_is_sent_at_once_in_tests_and_the_demo_but_not_in_production(tmp_path):
    from fancampaign import create_app
    from tests.conftest import make_config

    base = make_config(tmp_path)
    base.pop("MAIL_SEND_IMMEDIATELY")
    assert create_app(base).config["MAIL_SEND_IMMEDIATELY"] is True
    demo = {**base, "TESTING": False, "DEMO": True}
    assert create_app(demo).config["MAIL_SEND_IMMEDIATELY"] is True
    production = {**base, "TESTING": False}
    assert create_app(production).config["MAIL_SEND_IMMEDIATELY"] is False


# Backends -------------------------------------------------------------------------------


def test_the_console_backend_prints_the_whole_message_readably(app, capsys):
    app.config["MAIL_BACKEND"] = "console"
    queue_email("fan@example.com", "Confirm your email address", f"Héllo,\n\n{LONG_LINK}\n")
    db.session.commit()
    assert send_due() == (1, 0)
    printed = capsys.readouterr().out
    assert "----- email -----" in printed
    assert "To: fan@example.com" in printed
    assert "Subject: Confirm your email address" in printed
    assert "Héllo," in printed
    # The link is printed whole, not broken by quoted-printable soft line breaks.
    assert LONG_LINK in printed
    assert "----- end of email -----" in printed


def test_console_is_the_default_backend(app):
    from fancampaign.config import Defaults

    assert Defaults.MAIL_BACKEND == "console"


def test_the_smtp_backend_delivers_to_the_configured_server(app, smtp_server):
    use_smtp(app, smtp_server.server_address[1])
    app.config["MAIL_FROM"] = "fancampaign <noreply@fan.example>"
    queue_email("fan@example.com", "Confirm your email address", f"Héllo,\n\n{LONG_LINK}\n")
    db.session.commit()
    assert send_due() == (1, 0)
    (received,) = smtp_server.received
    assert "fan@example.com" in str(received["rcpt"])
    assert "noreply@fan.example" in str(received["from"])
    message = message_from_bytes(received["data"], policy=policy.default)  # type: ignore[arg-type]
    assert message["Subject"] == "Confirm your email address"
    assert message["To"] == "fan@example.com"
    body = message.get_content()
    assert "Héllo," in body
    assert LONG_LINK in body
    assert rows()[0].sent_at is not None


def test_smtp_settings_come_from_the_environment(monkeypatch, tmp_path):
    from fancampaign import create_app
    from tests.conftest import make_config

    monkeypatch.setenv("FANCAMPAIGN_MAIL_BACKEND", "smtp")
    monkeypatch.setenv("FANCAMPAIGN_MAIL_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("FANCAMPAIGN_MAIL_SMTP_PORT", "2525")
    monkeypatch.setenv("FANCAMPAIGN_MAIL_SMTP_STARTTLS", "true")
    config = make_config(tmp_path)
    config.pop("MAIL_BACKEND")
    app = create_app(config)
    assert app.config["MAIL_BACKEND"] == "smtp"
    assert app.config["MAIL_SMTP_HOST"] == "mail.example.org"
    assert app.config["MAIL_SMTP_PORT"] == 2525
    assert app.config["MAIL_SMTP_STARTTLS"] is True


def test_a_failed_send_is_kept_and_retried_later_with_backoff(app, smtp_server):
    use_smtp(app, closed_port())
    queue_email("fan@example.com", "Hello", "Body")
    db.session.commit()
    assert send_due() == (0, 1)
    (row,) = rows()
    assert row.sent_at is None and row.failed_at is None
    assert row.attempts == 1
    assert "ConnectionRefused" in (row.last_error or "")
    first_delay = row.next_attempt_at - utcnow()
    assert timedelta(seconds=30) < first_delay <= timedelta(seconds=61)
    assert send_due() == (0, 0)  # not due yet

    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert send_due() == (0, 1)
    (row,) = rows()
    assert row.attempts == 2
    assert row.next_attempt_at - utcnow() > first_delay  # the wait grows

    use_smtp(app, smtp_server.server_address[1])
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert send_due() == (1, 0)
    (row,) = rows()
    assert row.sent_at is not None
    assert row.last_error is None
    assert len(smtp_server.received) == 1


@pytest.mark.config(MAIL_MAX_ATTEMPTS=2)
def test_a_message_that_keeps_failing_is_marked_failed_but_kept(app):
    use_smtp(app, closed_port())
    queue_email("fan@example.com", "Hello", "Body")
    db.session.commit()
    for _ in range(2):
        assert send_due() == (0, 1)
        row = rows()[0]
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    (row,) = rows()
    assert row.failed_at is not None
    assert row.last_error
    assert send_due() == (0, 0)


def test_a_failed_immediate_send_leaves_the_mail_for_the_worker(app, client, outbox):
    use_smtp(app, closed_port())
    make_user("hugo", email="hugo@example.com")
    response = client.post("/reset-password", data={"email": "hugo@example.com"})
    assert response.status_code == 302
    (row,) = rows()
    assert row.sent_at is None
    assert row.attempts == 1
    app.config["MAIL_BACKEND"] = "memory"
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert send_due() == (1, 0)
    assert [m["To"] for m in outbox] == ["hugo@example.com"]


def test_an_unknown_backend_is_a_failed_send_not_a_lost_message(app):
    app.config["MAIL_BACKEND"] = "pigeon"
    queue_email("fan@example.com", "Hello", "Body")
    db.session.commit()
    assert send_due() == (0, 1)
    assert "pigeon" in (rows()[0].last_error or "")
