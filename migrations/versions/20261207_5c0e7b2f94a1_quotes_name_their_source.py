"""forum: quotes written before quotes named their source post now name it, where it is certain

A quote now reads `> @name [wrote](/forum/p/<id>):` and its rendered blockquote carries
`data-quote="<id>"`, so a reader who may not see that post (hidden, deleted) gets "Quoted post
is hidden" instead of its words. Quotes stored before had only `> @name wrote:`. For each such
top-level quote this finds its source: an earlier post by that name in the same thread whose
text the quote holds (exactly, or as a cut-down part of it), the latest if several; it then
writes the link into the Markdown and the mark and link into the stored HTML. A quote whose
source cannot be told for certain is left as it was.

Self-contained on purpose: it works on the stored Markdown and on the sanitiser's output
(html5ever serialisation), not through the application's code.

Revision ID: 5c0e7b2f94a1
Revises: 18d8c5a10bdc
Create Date: 2026-12-07 01:05:00

"""

import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5c0e7b2f94a1"
down_revision = "18d8c5a10bdc"
branch_labels = None
depends_on = None

BATCH = 500
_HEADER = re.compile(r"^> ?@([A-Za-z0-9_]{3,30}) wrote:$")
_BLOCKQUOTE_TAG = re.compile(r"<blockquote>|<blockquote [^>]*>|</blockquote>")


def quotes_in(body: str) -> list[tuple[int, str, str]]:
    """(line index, name, quoted text) of each top-level `> @name wrote:` quote."""
    lines = body.split("\n")
    found = []
    for index, line in enumerate(lines):
        match = _HEADER.match(line)
        if not match or (index and lines[index - 1].startswith(">")):
            continue
        quoted = []
        for following in lines[index + 1 :]:
            if not following.startswith(">"):
                break
            quoted.append(following[2:] if following.startswith("> ") else following[1:])
        found.append((index, match.group(1), "\n".join(quoted).strip("\n")))
    return found


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


def source_of(quoted: str, candidates: list[tuple[int, str]]) -> int | None:
    """The latest candidate (id, body) whose text is the quote's, or holds it."""
    quoted = _normal(quoted)
    if not quoted:
        return None
    for post_id, body in sorted(candidates, reverse=True):
        if _normal(body) == quoted:
            return post_id
    for post_id, body in sorted(candidates, reverse=True):
        if len(quoted) >= 20 and quoted in _normal(body):
            return post_id
    return None


def mark_quote_html(html: str, name: str, occurrence: int, post_id: int) -> str:
    """The HTML with the `occurrence`-th top-level quote headed `@name wrote:` marked."""
    header = re.compile(
        r"<blockquote>(\s*<p>(?:<a [^>]*>)?@" + re.escape(name) + r"(?:</a>)?) wrote:</p>",
        re.IGNORECASE,
    )
    seen = 0
    for match in header.finditer(html):
        depth = 0
        for tag in _BLOCKQUOTE_TAG.finditer(html, 0, match.start()):
            depth += -1 if tag.group(0) == "</blockquote>" else 1
        if depth:
            continue
        if seen == occurrence:
            marked = (
                f'<blockquote data-quote="{post_id}">{match.group(1)} '
                f'<a href="/forum/p/{post_id}" rel="nofollow ugc noopener">wrote</a>:</p>'
            )
            return html[: match.start()] + marked + html[match.end() :]
        seen += 1
    return html


def upgrade():
    bind = op.get_bind()
    posts = sa.table(
        "posts",
        sa.column("id", sa.Integer),
        sa.column("thread_id", sa.Integer),
        sa.column("author_id", sa.Integer),
        sa.column("body", sa.Text),
        sa.column("body_html", sa.Text),
    )
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username_lower", sa.String))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(posts.c.id, posts.c.thread_id, posts.c.body, posts.c.body_html)
            .where(posts.c.id > last, posts.c.body.like("%wrote:%"))
            .order_by(posts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            _link_quotes(bind, posts, users, row)
        last = rows[-1].id


def _link_quotes(bind, posts, users, row) -> None:
    lines = row.body.split("\n")
    html = row.body_html
    # Which of the still unmarked quotes headed by this name in the HTML is this one.
    unmarked: dict[str, int] = {}
    for index, name, quoted in quotes_in(row.body):
        occurrence = unmarked.get(name.lower(), 0)
        unmarked[name.lower()] = occurrence + 1
        candidates = bind.execute(
            sa.select(posts.c.id, posts.c.body)
            .join(users, users.c.id == posts.c.author_id)
            .where(
                posts.c.thread_id == row.thread_id,
                posts.c.id < row.id,
                users.c.username_lower == name.lower(),
            )
        ).all()
        source = source_of(quoted, [(c.id, c.body) for c in candidates])
        if source is None:
            continue
        marked = mark_quote_html(html, name, occurrence, source)
        if marked == html:
            continue
        html = marked
        unmarked[name.lower()] = occurrence
        lines[index] = f"> @{name} [wrote](/forum/p/{source}):"
    body = "\n".join(lines)
    if body != row.body:
        bind.execute(
            posts.update().where(posts.c.id == row.id).values(body=body, body_html=html)
        )


def downgrade():
    # The links stay: they only name what each quote already quoted.
    pass
