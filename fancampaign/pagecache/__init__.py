"""The page cache: rendered pages kept and served again until what they show changes.

How a page goes through it
--------------------------
A cached view is declared once, next to it, as a `Page`: the groups of tables it shows
(`depends`), the query arguments that matter (`args`), and for members the questions it asks
about its viewer (`marks`) and how their answers fill the page's slots (`fills`)::

    petition_page = Page(
        "petition",
        depends=("petitions", "news", "people", "site"),
        lagging=("signatures", "forum"),  # signers, chart, latest comments: <= 10 s behind
        marks=_marks,  # meta -> {"signature": (a column about the viewer, its parameters)}
        fills=_fills,  # (viewer, meta) -> {"sign": fill}, or None: a page of their own
        live=_live,    # (meta, answers) -> {"progress": fill}: the exact count, every request
    )

    @bp.route("/petitions/<slug>")
    @petition_page
    def show(slug): ...

and its template marks what differs per viewer, rendering the same partial its fill
renders::

    {{ slot("sign", petition.id, sign_box) }}

Adding a personalised page is just that: declare it, mark its slots.

1. `pages.Page` cuts the request's query to the declared arguments and looks the page up
   under its path, those arguments and the current versions of its groups (`store.lookup`:
   one read of the mapped versions file on one machine, one Redis MGET otherwise).
2. A visitor gets the stored rendering with its live slots filled and their own CSRF token
   (`frozen.thaw`); a member gets their role's shared rendering (`members.py`) with their
   slots filled; a moderator or author gets a rendering of their own.
3. On a miss the view renders once, slots and CSRF token marked (`render.rendering`), and the
   store keeps it (`store.keep`): in this worker's memory, and in Redis when there is one,
   until its timeout or the time the page changes by itself (`changes_at`).
4. A commit that wrote a group's tables bumps the group's version (`versions.py`, from
   `fancampaign.writes`): every page on that group is unreachable at once, no other page is.
5. When Redis does not answer, nothing is read from it (the view renders); a bump that could
   not be made is made before the process next reads versions from Redis, and the outage is
   logged once a minute (`outage.py`).

Nothing of the app is in here: the app says what its groups are, how to read its viewer and
what its stand-in looks like in a `Binding` (`init_app`; fancampaign/caching.py).
"""

import logging

from flask import Flask

from fancampaign.pagecache import binding, versions
from fancampaign.pagecache.binding import Binding, Fill, Viewer, each
from fancampaign.pagecache.fragments import fragment
from fancampaign.pagecache.pages import Page
from fancampaign.pagecache.render import changes_at, page_meta, render_part, slot
from fancampaign.pagecache.versions import bump, bump_all

__all__ = [
    "Binding",
    "Fill",
    "Page",
    "Viewer",
    "bump",
    "bump_all",
    "changes_at",
    "each",
    "fragment",
    "init_app",
    "page_meta",
    "render_part",
    "slot",
]


def init_app(app: Flask, found: Binding) -> None:
    """Set the cache up for this app; say so at start-up when its versions are kept on this
    machine although the database is a server (fine for one machine, wrong for several)."""
    binding.init_app(app, found)
    url = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    if not url.startswith("sqlite") and versions.where_kept(app) == "local":
        asked = app.config.get("PAGE_CACHE_VERSIONS")
        why = "PAGE_CACHE_VERSIONS=local" if asked else "no REDIS_URL"
        logging.getLogger(__name__).warning(
            "page cache: versions are kept in a file on this machine (%s). That is right for "
            "a site whose workers all run here; with several hosts set REDIS_URL (and "
            "PAGE_CACHE_VERSIONS=redis), or one host's writes will not show on the others.",
            why,
        )
