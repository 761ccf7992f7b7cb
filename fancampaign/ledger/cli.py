"""`fancampaign verify-log URL`: check a petition's log on a running site (verifier.py)."""

from __future__ import annotations

import click

from fancampaign.ledger.verifier import VerificationFailed, verify_site


@click.command("verify-log")
@click.argument("url")
@click.option("--key", type=click.File("rb"), help="Trust this public key (PEM), not the site's.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the next checkpoint.")
@click.option("--quick", is_flag=True, help="Skip rebuilding the tree from every leaf.")
def verify_log_command(
    url: str, key: click.utils.LazyFile | None, no_wait: bool, quick: bool
) -> None:
    """Check a petition's signature log: signatures, consistency, leaves, the count shown."""
    try:
        pem = key.read() if key else None
        click.echo(verify_site(url, key_pem=pem, wait=not no_wait, leaves=not quick))
    except VerificationFailed as err:
        raise click.ClickException(f"FAILED: {err}") from err


# Added to the `fancampaign` group itself (cli.py), not to the app's: it needs no app.
commands: list[click.Command] = []
