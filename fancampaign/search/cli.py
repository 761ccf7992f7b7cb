"""`fancampaign search-reindex`: rebuild the search index from the live rows."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from fancampaign.extensions import db
from fancampaign.search import backend, indexer


@click.command("search-reindex")
@with_appcontext
def reindex_command() -> None:
    """Create the full-text tables if missing, then rebuild every search document."""
    backend.setup(db.session.connection())
    count = indexer.reindex_all()
    db.session.commit()
    click.echo(f"Indexed {count} documents.")


commands = [reindex_command]
