"""The page cache: rendered pages kept and served again until what they show changes.

How a page goes through it
--------------------------
A cached view is declared once, next to it, as a `Page`: the groups of tables it shows
(`depends`), the query arguments that matter (`args`), and for members the questions it asks
about its viewer (`marks`) and how their answers fill the page's slots (`fills`)::

    petition_page = Page(
        "petition",
        depends=("petitions", "news", "forum", "people", "site"),
        lagging=("signatures",),  # recent signers, reasons, chart: at most 10 s behind
        marks=lambda meta: {"signature": signature_question(meta["petition"])},
        fills=signed_box,          # (viewer, meta) -> {"sign": fill} or None
        live=exact_count,          # (meta) -> {"progress": fill}, for every request
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

Nothing of the app is in here: the app says what its groups are, how to read its viewer and
what its stand-in looks like in a `Binding` (`init_app`; fancampaign/caching.py).
"""

from fancampaign.pagecache.binding import Binding, Fill, Viewer, each, init_app
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
