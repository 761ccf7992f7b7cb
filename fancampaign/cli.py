"""The `fancampaign` command: Flask's run/shell/db plus demo, seed, users and the mail worker."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from fancampaign.accounts.models import Role
from fancampaign.errors import DomainError


def _create_app() -> Flask:
    from fancampaign import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """fancampaign: news, petitions and a forum for fan campaigns."""


def upgrade_database() -> None:
    """Apply migrations (creating the database if needed)."""
    from flask_migrate import upgrade

    upgrade()


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the database and seeds, then stop.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Upgrade the database, load the demo content once, print the accounts, serve."""
    from fancampaign import create_app
    from fancampaign.seeds import load_demo

    # Links in the demo's mail point at the address it serves (this machine's name when it
    # listens on every interface; FANCAMPAIGN_ALLOWED_HOSTS adds the others it answers to).
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104  (a comparison)
    shown = f"[{shown}]" if ":" in shown else shown
    app = create_app({"DEMO": True, "BASE_URL": f"http://{shown}:{port}"})
    with app.app_context():
        upgrade_database()
        accounts = load_demo()
        from fancampaign.mail.services import send_due

        send_due(limit=1000)
    click.echo("")
    click.secho("fancampaign demo is ready.", bold=True)
    if accounts:
        click.echo(
            "Demo accounts (passwords are generated and kept in instance/demo-accounts.txt):"
        )
        for username, role, password in accounts:
            click.echo(f"  {username:<12} {role:<10} {password}")
    click.echo(f"\nOpen {app.config['BASE_URL']}/ in your browser. Press Ctrl+C to stop.\n")
    if no_serve:
        return
    # Flask's app.run() refuses to start inside the `flask` CLI machinery; serve directly.
    from werkzeug.serving import run_simple

    from fancampaign.campaign.mailer import BackgroundWorker

    # The mail worker runs beside the server (production runs `fancampaign worker` instead), so
    # scheduled posts' and campaign mail go out on time; it stops with the demo.
    worker = BackgroundWorker(app).start()
    click.echo("Mail worker running in the background.")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        worker.stop()


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Load the demo content from seeds/ (idempotent)."""
    from fancampaign.seeds import load_demo

    accounts = load_demo()
    for username, role, password in accounts:
        click.echo(f"{username:<12} {role:<10} {password}")


@click.command("create-user")
@click.argument("username")
@click.option("--email", required=True)
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default="member", show_default=True
)
@click.option("--password-file", type=click.File("r"), help="Read the password from this file.")
@with_appcontext
def create_user_command(username: str, email: str, role: str, password_file: Any) -> None:
    """Create a confirmed account (password prompted, or read from --password-file)."""
    from fancampaign.accounts.services import register_user
    from fancampaign.extensions import db

    if password_file is not None:
        password = password_file.read().strip()
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = register_user(
            username, email, password, role=Role(role), confirmed=True, allow_reserved=True
        )
    except DomainError as err:
        db.session.rollback()
        raise click.ClickException(err.message) from err
    db.session.commit()
    click.echo(f"Created {user.username} ({user.role}).")


@click.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@with_appcontext
def set_role_command(username: str, role: str) -> None:
    """Give a user a role (logged in /moderation/log as "system (command line)")."""
    from fancampaign.accounts.services import get_by_username
    from fancampaign.admin.services import change_role
    from fancampaign.extensions import db

    user = get_by_username(username)
    if user is None:
        raise click.ClickException(f"No user named {username}.")
    try:
        change_role(None, user, role, "")
    except DomainError as err:
        db.session.rollback()
        raise click.ClickException(err.message) from err
    db.session.commit()
    click.echo(f"{user.username} is now {role}.")


@click.command("worker")
@click.option("--once", is_flag=True, help="Send what is due, then stop.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
@with_appcontext
def worker_command(once: bool, interval: float) -> None:
    """Send queued mail and campaign mail to signers (retrying failures with backoff), and
    record the petitions' milestones."""
    from fancampaign.campaign.mailer import work_once

    click.echo(f"Mail worker started (backend: {current_app.config['MAIL_BACKEND']}).")
    while True:
        sent, failed = work_once()
        if sent or failed:
            click.echo(f"sent {sent}, failed {failed}")
        if once:
            break
        if not sent:
            time.sleep(interval)


for _command in (
    demo_command,
    seed_command,
    create_user_command,
    set_role_command,
    worker_command,
):
    main.add_command(_command)


def register(app: Flask) -> None:
    """Add each area's own commands (its cli.py `commands`) to the app's CLI."""
    from fancampaign import AREAS, ROOT

    for area in AREAS:
        if (Path(ROOT) / "fancampaign" / area / "cli.py").exists():
            module = importlib.import_module(f"fancampaign.{area}.cli")
            for command in module.commands:
                app.cli.add_command(command)


from fancampaign.benchdata import bench_data_command  # noqa: E402  (bench data set)

main.add_command(bench_data_command)
# Needs no app (nor its configuration): it checks another site from outside.
from fancampaign.ledger.cli import verify_log_command  # noqa: E402

main.add_command(verify_log_command)
