"""content: images on other hosts in stored HTML become links to them

User text is rendered to HTML once, on write. Until now an image from any https:// host was
kept as an <img>, so every reader's browser called that host; the renderer now writes a link
instead (and the CSP allows images from our own origin only). This rewrites what was stored
before: each <img> whose src is not our own /uploads/ becomes a link to the image labelled
"Image: <alt>" (or just its alt text inside a link, where a link cannot nest). The Markdown
source is untouched, so a later edit renders the same way.

Self-contained on purpose: it works on the sanitiser's output (html5ever serialisation: tags
and attributes exactly as below), not through the application's code.

Revision ID: 18d8c5a10bdc
Revises: 0574e2160d3a
Create Date: 2026-12-07 01:00:00

"""

import html
import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "18d8c5a10bdc"
down_revision = "0574e2160d3a"
branch_labels = None
depends_on = None

TABLES = ("posts", "news_posts", "news_updates", "petitions")
BATCH = 500

_IMG = re.compile(r'<img((?:\s+[a-zA-Z-]+="[^"]*")*)\s*/?>')
_ATTRIBUTE = re.compile(r'([a-zA-Z-]+)="([^"]*)"')
_LINK_TAG = re.compile(r"<a\s|</a>")


def _inside_link(text: str, position: int) -> bool:
    depth = 0
    for match in _LINK_TAG.finditer(text, 0, position):
        depth += -1 if match.group(0) == "</a>" else 1
    return depth > 0


def external_images_as_links(text: str) -> str:
    """The stored HTML with every image not from /uploads/ as a link (or text in a link)."""

    def replace(match: re.Match[str]) -> str:
        attributes = {k.lower(): html.unescape(v) for k, v in _ATTRIBUTE.findall(match.group(1))}
        src = attributes.get("src", "").strip()
        if src.startswith("/uploads/"):
            return match.group(0)
        alt = attributes.get("alt", "")
        if _inside_link(text, match.start()) or not src.lower().startswith("https://"):
            return html.escape(alt, quote=False)
        label = f"Image: {alt}" if alt.strip() else f"Image on {urlsplit(src).hostname}"
        return (
            f'<a href="{html.escape(src)}" rel="nofollow ugc noopener">'
            f"{html.escape(label, quote=False)}</a>"
        )

    return _IMG.sub(replace, text)


def upgrade():
    bind = op.get_bind()
    for name in TABLES:
        table = sa.table(name, sa.column("id", sa.Integer), sa.column("body_html", sa.Text))
        last = 0
        while True:
            rows = bind.execute(
                sa.select(table.c.id, table.c.body_html)
                .where(table.c.id > last, table.c.body_html.like("%<img%"))
                .order_by(table.c.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            for row in rows:
                changed = external_images_as_links(row.body_html)
                if changed != row.body_html:
                    bind.execute(
                        table.update().where(table.c.id == row.id).values(body_html=changed)
                    )
            last = rows[-1].id


def downgrade():
    # The rewritten HTML stays: loading third-party images again is not a state to go back to
    # (and the Markdown source, which never changed, renders the same way on the next edit).
    pass
