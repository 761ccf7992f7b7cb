"""Petition commands: check the signature counters against the rows."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from fancampaign.extensions import db


@click.command("recount")
@click.option("--check", is_flag=True, help="Only report drift; change nothing (exit 1 on drift).")
@with_appcontext
def recount_command(check: bool) -> None:
    """Verify every petition's signature counter against its confirmed signatures; repair drift."""
    from fancampaign.petitions.services import recount

    drifts = recount(fix=not check)
    for petition, stored, actual in drifts:
        click.echo(
            f"{petition.slug}: counter {stored}, signatures {actual} (drift {stored - actual:+d})"
        )
    if check:
        db.session.rollback()
        if drifts:
            raise SystemExit(1)
        click.echo("All counters are exact.")
        return
    db.session.commit()
    click.echo(f"Repaired {len(drifts)} counter(s)." if drifts else "All counters are exact.")


commands = [recount_command]
