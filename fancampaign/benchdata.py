"""`fancampaign bench-data`: a large, realistic data set for the benchmarks, made quickly.

Rows go in with bulk inserts that bypass the ORM: COPY on PostgreSQL (psycopg's
`cursor.copy`), `executemany` in chunks on SQLite. Everything that is expensive per row is
done once and reused: one password hash for every account, post HTML rendered once per
distinct body template. The denormalised counters (signature counts, reply and post counts,
last activity, category totals) are then set exactly from the rows with
`UPDATE ... FROM (SELECT ... GROUP BY ...)`, so `recount`-style checks agree with them.

At --scale 1 (the default): 100,000 users, 200 petitions with 1,000,000 signatures (one with
300,000), 500 news posts, 20,000 threads with 400,000 posts, 10,000 reports. The rows are
added next to whatever is there (ids continue after the current maximum), but the command
refuses to run on a database that already has bench data unless --reset empties it first.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import math
import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from fancampaign import pagecache
from fancampaign.extensions import db

CHUNK = 10_000
# The bench accounts are fan1, fan2, ...; this marks a database that already has them.
USER_PREFIX = "fan"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    """How many rows of each kind to make."""

    users: int
    petitions: int
    signatures: int
    big_petition: int
    news: int
    threads: int
    posts: int
    reports: int
    # The hot thread (benchmarked first and last page) and the featured article's comments.
    hot_thread_posts: int
    article_comments: int

    @classmethod
    def at(cls, scale: float) -> Plan:
        def n(value: int, floor: int) -> int:
            return max(floor, round(value * scale))

        signatures = n(1_000_000, 100)
        threads = n(20_000, 20)
        posts = max(n(400_000, 200), threads * 2)
        return cls(
            users=n(100_000, 50),
            petitions=n(200, 10),
            signatures=signatures,
            big_petition=max(30, round(signatures * 0.3)),
            news=n(500, 3),
            threads=threads,
            posts=posts,
            reports=n(10_000, 10),
            hot_thread_posts=max(40, round(posts * 0.01)),
            article_comments=max(20, min(300, round(posts * 0.001))),
        )


# Content ------------------------------------------------------------------------------

FIRST_NAMES = [
    "Alita",
    "Ido",
    "Hugo",
    "Koyomi",
    "Zapan",
    "Chiren",
    "Gelda",
    "Nova",
    "Yugo",
    "Tanji",
    "Grewishka",
    "Vector",
    "Ajakutty",
    "Makaku",
    "Jashugan",
    "Kinuba",
    "Shumatsu",
    "Aiko",
    "Mira",
    "Lena",
    "Ravi",
    "Sofia",
    "Tomas",
    "Yuki",
    "Ines",
    "Omar",
    "Priya",
    "Jonas",
    "Chen",
    "Amara",
    "Felix",
    "Noor",
    "Mateo",
    "Hana",
    "Lucia",
    "Kofi",
    "Elif",
    "Sven",
    "Maya",
    "Dario",
]
LAST_NAMES = [
    "Daisuke",
    "Kurosawa",
    "Okafor",
    "Silva",
    "Novak",
    "Tanaka",
    "Moreau",
    "Kowalski",
    "Haddad",
    "Lindqvist",
    "Costa",
    "Nakamura",
    "Reyes",
    "Schmidt",
    "Osei",
    "Rossi",
    "Park",
    "Dubois",
    "Ivanova",
    "Mensah",
    "Larsen",
    "Gupta",
    "Fischer",
]
COUNTRIES = [
    "GB",
    "US",
    "FR",
    "DE",
    "JP",
    "BR",
    "ES",
    "IT",
    "NL",
    "SE",
    "PL",
    "CA",
    "AU",
    "MX",
    "IN",
]

THREAD_TITLES = (
    "What did you think of the {n}th rewatch?",
    "Fan theory #{n}: Zalem and the Factory",
    "Motorball league meetup {n}",
    "Cosplay progress thread {n}",
    "Box office numbers, week {n}",
    "Sequel casting rumours ({n})",
    "Soundtrack appreciation {n}",
    "Manga vs film: chapter {n}",
    "Letter-writing campaign, round {n}",
    "Fan art showcase {n}",
)
POST_BODIES = (
    "I rewatched it last night and the **Motorball** sequence still holds up. "
    "The pacing in the second act is better than people remember.",
    "Has anyone written to the studio yet? Here is a template:\n\n"
    "> Dear studio, we would love a sequel.\n\nFeel free to adapt it.",
    "Counterpoint: the film works *because* it ends open. A sequel has to earn it.",
    "Signed the petition and shared it with my book club. Every signature counts!",
    "The art book has some great concept sketches of Zalem. Page 112 in particular.",
    "Quick reminder of the forum rules: be kind, no spoilers in titles, use the tags.",
    "Here are three reasons the sequel makes sense:\n\n1. The fanbase is active\n"
    "2. The world is built\n3. The story is half-told",
    "I made a list of the manga arcs the sequel could adapt:\n\n- Motorball\n- Ladder\n"
    "- Zalem\n\nWhich one would you pick?",
    "Agreed. The soundtrack alone deserves a second film.",
    "Does anyone have the link to the [official announcement](https://example.org/news)?",
    "Welcome to everyone who joined this week! Introduce yourselves below.",
    "The cast interviews from the convention are worth a watch, especially the panel Q&A.",
    "My daughter watched it for the first time and immediately asked when the next one "
    "comes out. That is the whole campaign in one sentence.",
    "Small correction: the screening is on *Saturday*, not Sunday. See you there.",
    "`#AlitaArmy` trending again today. Keep it going, and keep it friendly.",
    "I disagree with most of this thread, but I appreciate how civil it has stayed.",
    "Printed flyers for the local cinema. If anyone wants the PDF, reply here.",
    "The worldbuilding in the scrapyard scenes is unmatched: every frame has a story.",
    "We passed another milestone on the petition. Thank you all!",
    "Long post incoming.\n\n## Why the sequel matters\n\nFan campaigns have revived shows "
    "before. It takes numbers, persistence and patience. " * 2,
)
SIGN_REASONS = (
    "The story deserves an ending.",
    "Best film I have seen in years.",
    "For my kids, who love Alita.",
    "Motorball forever!",
    "We want to see Zalem!",
    "",
)
REPORT_NOTES = ("", "Looks like spam.", "Rude to another member.", "Off-topic for this thread.")


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[rng.randrange(len(seq))]


def _spread(
    rng: random.Random, total: int, parts: int, floor: int = 0, cap: int | None = None
) -> list[int]:
    """Split `total` into `parts` long-tailed amounts (each at least `floor`, at most `cap`
    when it can be) that sum exactly."""
    if parts <= 0:
        return []
    base = [floor] * parts
    rest = total - floor * parts
    if rest <= 0:
        return base
    weights = [rng.paretovariate(1.2) for _ in range(parts)]
    scale = rest / sum(weights)
    amounts = [b + int(w * scale) for b, w in zip(base, weights, strict=True)]
    short = total - sum(amounts)
    for i in rng.choices(range(parts), k=short) if short > 0 else ():
        amounts[i] += 1
    if cap is not None and cap * parts >= total:
        # Clip the tail and hand the excess to the others, evenly, until nothing is over.
        while excess := sum(max(0, a - cap) for a in amounts):
            amounts = [min(a, cap) for a in amounts]
            room = [i for i, a in enumerate(amounts) if a < cap]
            each, extra = divmod(excess, len(room))
            for k, i in enumerate(room):
                amounts[i] += each + (1 if k < extra else 0)
    return amounts


# Bulk loading -------------------------------------------------------------------------


class Loader:
    """Writes rows (dicts) to a table in chunks: COPY on PostgreSQL, executemany on SQLite.

    Columns a row leaves out take the model's scalar default (callables are called once per
    table, which is fine for created_at-style values); a required column with no default is
    a bug in this module and says so.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.dbapi = conn.connection.dbapi_connection

    def next_id(self, table: sa.Table) -> int:
        return int(self.conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1

    def _defaults(self, table: sa.Table, given: Iterable[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for column in table.columns:
            if column.name in given:
                continue
            default = column.default
            if default is not None and getattr(default, "is_scalar", False):
                values[column.name] = default.arg
            elif default is not None and getattr(default, "is_callable", False):
                values[column.name] = default.arg(None)
            elif (
                column.server_default is not None
                or column.nullable
                or (column.primary_key and column.autoincrement in (True, "auto"))
            ):
                continue
            else:
                raise click.ClickException(
                    f"bench-data does not fill {table.name}.{column.name} (required, no "
                    "default): update fancampaign/benchdata.py for the new column."
                )
        return values

    def insert(
        self,
        table: sa.Table,
        rows: Iterable[dict[str, Any]],
        total: int,
        label: str,
    ) -> int:
        """Insert every row; return how many went in."""
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return 0
        unknown = set(first) - set(table.c.keys())
        if unknown:
            # Tolerate columns that another area renamed or dropped: warn once, skip them.
            click.echo(f"  ({table.name}: no column(s) {', '.join(sorted(unknown))}; skipped)")
        keys = [k for k in first if k in table.c]
        defaults = self._defaults(table, keys)
        columns = keys + list(defaults)
        constant = tuple(defaults.values())
        converters = [self._converter(table.c[name]) for name in columns]
        count = 0
        with click.progressbar(length=total, label=f"{label:<14}", show_pos=True) as bar:
            for chunk in _chunks(itertools.chain([first], iterator), CHUNK):
                tuples = [tuple(row[k] for k in keys) + constant for row in chunk]
                if any(converters):
                    tuples = [
                        tuple(c(v) if c else v for c, v in zip(converters, t, strict=True))
                        for t in tuples
                    ]
                self._write(table, columns, tuples)
                count += len(tuples)
                bar.update(len(tuples))
        return count

    def _converter(self, column: sa.Column[Any]) -> Callable[[Any], Any] | None:
        if self.dialect != "sqlite":
            return None
        if isinstance(column.type, sa.DateTime) or isinstance(
            getattr(column.type, "impl", None), sa.DateTime
        ):
            return _sqlite_datetime
        return None

    def _write(self, table: sa.Table, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        if self.dialect == "postgresql":
            with (
                self.dbapi.cursor() as cursor,
                cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor = self.dbapi.cursor()
            # Names come from our own metadata, values are bound.
            sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
            cursor.executemany(sql, rows)
            cursor.close()


def _sqlite_datetime(value: Any) -> Any:
    # The format SQLAlchemy's SQLite DateTime writes (UTC, the zone dropped as UTCDateTime does).
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _table(name: str) -> sa.Table | None:
    return db.metadata.tables.get(name)


# The generator ------------------------------------------------------------------------


@dataclass
class Made:
    """What was made: ids the later stages refer to, and counts for the summary."""

    user_ids: list[int]
    staff_ids: list[int]
    counts: dict[str, int]


class Generator:
    def __init__(self, loader: Loader, plan: Plan, seed: int, now: datetime) -> None:
        self.loader = loader
        self.plan = plan
        self.rng = random.Random(seed)
        self.now = now
        self.counts: dict[str, int] = {}
        self._html: dict[str, str] = {}

    # helpers
    def html(self, source: str) -> str:
        """Render a body template once; every row using it shares the result."""
        if source not in self._html:
            from fancampaign.text import render_markdown

            self._html[source] = render_markdown(source)
        return self._html[source]

    def when(self, start: datetime, end: datetime | None = None) -> datetime:
        end = end or self.now
        span = max(1.0, (end - start).total_seconds())
        return start + timedelta(seconds=self.rng.random() * span)

    def put(self, name: str, rows: Iterable[dict[str, Any]], total: int) -> None:
        table = _table(name)
        if table is None:
            click.echo(f"  (no {name} table; skipped)")
            return
        self.counts[name] = self.counts.get(name, 0) + self.loader.insert(table, rows, total, name)

    # users
    def users(self, password_hash: str) -> tuple[list[int], list[int]]:
        table = _table("users")
        assert table is not None
        start = self.loader.next_id(table)
        n = self.plan.users
        ids = list(range(start, start + n))
        staff = ids[:20]
        rng = self.rng
        roles = {ids[0]: "admin"}
        roles.update(dict.fromkeys(ids[1:6], "moderator"))
        roles.update(dict.fromkeys(ids[6:20], "organiser"))

        def rows() -> Iterator[dict[str, Any]]:
            for i in ids:
                created = self.when(EPOCH)
                name = f"{_pick(rng, FIRST_NAMES)} {_pick(rng, LAST_NAMES)}"
                yield {
                    "id": i,
                    "username": f"{USER_PREFIX}{i}",
                    "username_lower": f"{USER_PREFIX}{i}",
                    "email": f"{USER_PREFIX}{i}@bench.example.org",
                    "pending_email": None,
                    "password_hash": password_hash,
                    "display_name": name if rng.random() < 0.7 else "",
                    "bio": "",
                    "role": roles.get(i, "member"),
                    "email_confirmed_at": created if rng.random() < 0.95 or i in roles else None,
                    "suspended_until": None,
                    "is_banned": False,
                    "deleted_at": None,
                    "session_token": secrets.token_hex(8) + f"{i:x}"[-8:],
                    "created_at": created,
                    "last_login_at": None,
                }

        self.put("users", rows(), n)
        return ids, staff

    # forum
    def categories(self) -> dict[str, int]:
        table = _table("categories")
        assert table is not None
        wanted = [
            ("announcements", "Announcements", True),
            ("general", "General discussion", False),
            ("campaign", "Campaign planning", False),
            ("fan-works", "Fan works", False),
            ("off-topic", "Off-topic", False),
            ("petition-discussion", "Petition discussion", False),
            ("news-discussion", "News discussion", False),
        ]
        existing = dict(self.loader.conn.execute(sa.select(table.c.slug, table.c.id)).all())
        start = self.loader.next_id(table)
        rows = []
        for position, (slug, name, staff_only) in enumerate(wanted):
            if slug in existing:
                continue
            existing[slug] = start + len(rows)
            rows.append(
                {
                    "id": existing[slug],
                    "slug": slug,
                    "name": name,
                    "description": f"{name} about the campaign.",
                    "position": position,
                    "is_staff_only": staff_only,
                    "thread_count": 0,
                    "post_count": 0,
                    "created_at": EPOCH,
                }
            )
        self.put("categories", rows, len(rows))
        return existing

    def forum(
        self,
        user_ids: list[int],
        staff_ids: list[int],
        categories: dict[str, int],
        subjects: list[tuple[str, int, int, datetime, str]],
    ) -> dict[tuple[str, int], int]:
        """Threads and posts. `subjects` are (kind, id, author, opened_at, title) needing a
        discussion thread; returns their thread ids by (kind, id)."""
        threads_t, posts_t = _table("threads"), _table("posts")
        assert threads_t is not None and posts_t is not None
        rng = self.rng
        plan = self.plan
        thread_start = self.loader.next_id(threads_t)
        post_start = self.loader.next_id(posts_t)
        n_threads = max(plan.threads, len(subjects) + 2)

        # Which category each thread lives in: most in "general", so its page 500 exists.
        plain = ["general"] * 55 + ["campaign"] * 15 + ["fan-works"] * 15 + ["off-topic"] * 14
        plain += ["announcements"]
        kinds: list[tuple[str, tuple[str, int] | None]] = []
        for kind, sid, *_ in subjects:
            kinds.append((f"{kind}-discussion", (kind, sid)))
        for _ in range(n_threads - len(subjects)):
            kinds.append((_pick(rng, plain), None))

        # Posts per thread: the hot thread, the featured article's comments, a long tail.
        hot = len(subjects)  # the first plain thread
        sizes = _spread(
            rng,
            plan.posts - plan.hot_thread_posts,
            n_threads - 1,
            floor=1,
            cap=max(2, plan.hot_thread_posts // 4),
        )
        sizes.insert(hot, plan.hot_thread_posts)
        article = next((i for i, (_, s) in enumerate(kinds) if s and s[0] == "news"), None)
        if article is not None:
            # The newest news post (subjects come newest first) is the commented one.
            moved = plan.article_comments + 1 - sizes[article]
            donor = max(range(n_threads), key=lambda i: sizes[i] if i != hot else -1)
            if moved > 0 and sizes[donor] - moved >= 1:
                sizes[article] += moved
                sizes[donor] -= moved

        subject_threads: dict[tuple[str, int], int] = {}
        thread_rows: list[dict[str, Any]] = []
        plan_posts: list[tuple[int, int, datetime]] = []  # thread id, n posts, start
        for offset, (slug, subject) in enumerate(kinds):
            tid = thread_start + offset
            if subject is not None:
                _, _, author, opened, title = subjects[offset]
                start = opened
                subject_threads[subject] = tid
            else:
                author = _pick(rng, staff_ids) if slug == "announcements" else _pick(rng, user_ids)
                start = self.when(EPOCH, self.now - timedelta(hours=1))
                title = _pick(rng, THREAD_TITLES).format(n=offset + 1)
            thread_rows.append(
                {
                    "id": tid,
                    "category_id": categories[slug],
                    "title": title[:150],
                    "slug": _slugify(title),
                    "author_id": author,
                    "is_pinned": slug == "announcements" and rng.random() < 0.3,
                    "is_locked": rng.random() < 0.01,
                    "is_hidden": subject is None and offset != hot and rng.random() < 0.003,
                    "hidden_reason": "",
                    "reply_count": 0,
                    "post_count": 0,
                    "created_at": start,
                    "last_activity_at": start,
                    "last_poster_id": author,
                    "subject_kind": subject[0] if subject else None,
                    "subject_id": subject[1] if subject else None,
                }
            )
            plan_posts.append((tid, sizes[offset], start))
        for row in thread_rows:
            if row["is_hidden"]:
                row["hidden_reason"] = "moderation"
        self.put("threads", thread_rows, len(thread_rows))

        authors = {row["id"]: row["author_id"] for row in thread_rows}
        bodies = [(b, self.html(b)) for b in POST_BODIES]

        def post_rows() -> Iterator[dict[str, Any]]:
            pid = post_start
            for tid, n, start in plan_posts:
                # Post times grow through the thread (ids follow them), up to an hour ago.
                step = max(1.0, (self.now - start).total_seconds() - 3600) / max(n, 1)
                t = start
                for k in range(n):
                    body, body_html = bodies[rng.randrange(len(bodies))]
                    hidden = k > 0 and rng.random() < 0.005
                    deleted = k > 0 and not hidden and rng.random() < 0.005
                    yield {
                        "id": pid,
                        "thread_id": tid,
                        "author_id": authors[tid] if k == 0 else _pick(rng, user_ids),
                        "is_first": k == 0,
                        "body": body,
                        "body_html": body_html,
                        "created_at": t,
                        "edited_at": t + timedelta(minutes=5) if rng.random() < 0.02 else None,
                        "is_hidden": hidden,
                        "hidden_reason": "moderation" if hidden else "",
                        "is_deleted": deleted,
                        "deleted_at": t + timedelta(hours=1) if deleted else None,
                        "like_count": 0,
                        "told_at": t,  # each was shown when written
                    }
                    pid += 1
                    t = t + timedelta(seconds=step * (0.5 + rng.random()))

        self.put("posts", post_rows(), sum(n for _, n, _ in plan_posts))
        self.thread_ids = (thread_start, thread_start + len(thread_rows))
        self.post_ids = (post_start, post_start + sum(n for _, n, _ in plan_posts))
        return subject_threads

    # petitions
    def petitions(self, user_ids: list[int], staff_ids: list[int]) -> list[dict[str, Any]]:
        table = _table("petitions")
        assert table is not None
        rng = self.rng
        plan = self.plan
        start = self.loader.next_id(table)
        body = (
            "We, the fans, ask the studio to greenlight the sequel.\n\n"
            "## Why\n\nThe first film found an audience that is still growing. "
            "**Hundreds of thousands** of people have asked for the story to continue.\n\n"
            "## What we ask\n\n1. Announce the sequel\n2. Bring back the cast\n"
        )
        body_html = self.html(body)
        rows = []
        for k in range(plan.petitions):
            pid = start + k
            if k == 0:
                status = "open"
            else:
                r = rng.random()
                status = (
                    "open"
                    if r < 0.8
                    else "closed"
                    if r < 0.88
                    else "won"
                    if r < 0.93
                    else "pending"
                    if r < 0.97
                    else "draft"
                )
            created = self.when(EPOCH, self.now - timedelta(days=30))
            opened = created + timedelta(hours=2) if status in ("open", "closed", "won") else None
            closed = self.when(opened) if status in ("closed", "won") and opened else None
            title = (
                "Greenlight the Alita sequel"
                if k == 0
                else f"Petition {pid}: {_pick(rng, THREAD_TITLES).format(n=pid)}"
            )
            rows.append(
                {
                    "id": pid,
                    "slug": f"bench-{pid}-{_slugify(title)}"[:90],
                    "title": title[:150],
                    "summary": "Ask the studio to continue the story the fans love.",
                    "body": body,
                    "body_html": body_html,
                    "target": "The studio",
                    "goal": 500_000 if k == 0 else _pick(rng, (1000, 5000, 10_000, 50_000)),
                    "deadline": None,
                    "status": status,
                    "creator_id": _pick(rng, staff_ids) if k == 0 else _pick(rng, user_ids),
                    "signature_count": 0,
                    "victory_note": "We did it!" if status == "won" else "",
                    "rejection_reason": "",
                    "thread_id": None,
                    "created_at": created,
                    "opened_at": opened,
                    "closed_at": closed,
                    "updated_at": closed or opened or created,
                }
            )
        self.put("petitions", rows, len(rows))
        return rows

    def signatures(self, petitions: list[dict[str, Any]], user_ids: list[int]) -> None:
        rng = self.rng
        plan = self.plan
        public = [p for p in petitions if p["opened_at"] is not None]
        big, rest = public[0], public[1:]
        amounts = {big["id"]: min(plan.big_petition, plan.signatures)}
        remaining = plan.signatures - amounts[big["id"]]
        # Every other petition stays well below the largest one.
        cap = max(1, amounts[big["id"]] // 3)
        for p, n in zip(rest, _spread(rng, remaining, len(rest), cap=cap), strict=True):
            amounts[p["id"]] = n
        if not rest:
            amounts[big["id"]] = plan.signatures
        table = _table("signatures")
        assert table is not None
        start = self.loader.next_id(table)
        guest_names = [f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES]

        def rows() -> Iterator[dict[str, Any]]:
            sid = start
            for p in public:
                n = amounts.get(p["id"], 0)
                members = rng.sample(user_ids, min(len(user_ids), int(n * 0.4)))
                opened: datetime = p["opened_at"]
                end = p["closed_at"] or self.now
                for k in range(n):
                    created = self.when(opened, end)
                    reason = _pick(rng, SIGN_REASONS) if rng.random() < 0.1 else ""
                    row = {
                        "id": sid,
                        "petition_id": p["id"],
                        "user_id": None,
                        "name": "",
                        "email": None,
                        "email_normalised": None,
                        "country": _pick(rng, COUNTRIES) if rng.random() < 0.8 else None,
                        "reason": reason,
                        "reason_hidden": False,
                        "is_public": rng.random() < 0.6,
                        "keep_updated": rng.random() < 0.3,
                        "confirmed_at": created,
                        "created_at": created,
                    }
                    if k < len(members):
                        row["user_id"] = members[k]
                    else:
                        email = f"guest{sid}@bench.example.net"
                        row["name"] = _pick(rng, guest_names)
                        row["email"] = email
                        row["email_normalised"] = email
                        # A few guests never followed their confirmation link: not counted.
                        if rng.random() < 0.03:
                            row["confirmed_at"] = None
                    yield row
                    sid += 1

        self.put("signatures", rows(), sum(amounts.values()))

    # news
    def news(self, staff_ids: list[int], petitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        table = _table("news_posts")
        if table is None:
            click.echo("  (no news_posts table; skipped)")
            return []
        rng = self.rng
        start = self.loader.next_id(table)
        body = (
            "The campaign keeps growing. This week we passed another milestone and the "
            "studio has noticed.\n\n## What happened\n\nFans met in twelve cities, wrote "
            "letters and filled screenings. Thank you all.\n\n## What next\n\n- Keep "
            "signing\n- Keep sharing\n- Keep it kind\n\n" + "More details follow. " * 40
        )
        body_html = self.html(body)
        words = len(body.split())
        rows = []
        n = self.plan.news
        for k in range(n):
            nid = start + k
            # Newest first: k == 0 is the latest article (the one with the most comments).
            published = self.now - timedelta(hours=2) - (self.now - EPOCH) * (k / max(n, 1))
            title = f"Campaign update {n - k}: the road to the sequel"
            rows.append(
                {
                    "id": nid,
                    "slug": f"bench-{nid}-{_slugify(title)}"[:100],
                    "title": title,
                    "standfirst": "Where the campaign stands, and what comes next.",
                    "body": body,
                    "body_html": body_html,
                    "reading_minutes": max(1, math.ceil(words / 230)),
                    "cover_key": None,
                    "cover_widths": "",
                    "cover_alt": "",
                    "author_id": _pick(rng, staff_ids),
                    "status": "published" if k < n - max(1, n // 50) else "draft",
                    "is_developing": k == 0,
                    "created_at": published - timedelta(hours=1),
                    "updated_at": published,
                    "published_at": published,
                    "announced_at": published,
                    "thread_id": None,
                }
            )
        for row in rows:
            if row["status"] == "draft":
                row["published_at"] = None
                row["announced_at"] = None
        self.put("news_posts", rows, len(rows))

        tags_t = _table("tags")
        if tags_t is not None:
            names = ["sequel", "campaign", "studio", "events", "petition", "fan-art"]
            existing = dict(self.loader.conn.execute(sa.select(tags_t.c.name, tags_t.c.id)).all())
            tag_start = self.loader.next_id(tags_t)
            new = [t for t in names if t not in existing]
            for offset, name in enumerate(new):
                existing[name] = tag_start + offset
            self.put(
                "tags",
                [{"id": existing[t], "name": t, "created_at": EPOCH} for t in new],
                len(new),
            )
            links = [
                {"news_post_id": r["id"], "tag_id": existing[t]}
                for r in rows
                for t in rng.sample(names, 2)
            ]
            self.put("news_post_tags", links, len(links))
        public = [p["id"] for p in petitions if p["opened_at"] is not None]
        if public and _table("news_post_petitions") is not None:
            links = [{"news_post_id": r["id"], "petition_id": public[0]} for r in rows[::3]]
            self.put("news_post_petitions", links, len(links))
        updates_t = _table("news_updates")
        if updates_t is not None and rows:
            update = "Update: the studio replied to our letters. More soon."
            first = rows[0]
            update_start = self.loader.next_id(updates_t)
            self.put(
                "news_updates",
                [
                    {
                        "id": update_start + k,
                        "news_post_id": first["id"],
                        "author_id": first["author_id"],
                        "body": update,
                        "body_html": self.html(update),
                        "created_at": first["published_at"] + timedelta(minutes=10 * (k + 1)),
                    }
                    for k in range(3)
                ],
                3,
            )
        return rows

    # moderation
    def reports(self, user_ids: list[int], staff_ids: list[int]) -> None:
        table = _table("reports")
        if table is None:
            click.echo("  (no reports table; skipped)")
            return
        rng = self.rng
        start = self.loader.next_id(table)
        p_lo, p_hi = self.post_ids
        moderators = staff_ids[:6]

        def rows() -> Iterator[dict[str, Any]]:
            seen: set[tuple[int, int]] = set()
            rid = start
            while rid < start + self.plan.reports:
                reporter = _pick(rng, user_ids)
                item = rng.randrange(p_lo, p_hi)
                if (reporter, item) in seen:
                    continue
                seen.add((reporter, item))
                created = self.when(EPOCH)
                is_open = rng.random() < 0.2
                status = "open" if is_open else _pick(rng, ("resolved", "dismissed"))
                yield {
                    "id": rid,
                    "reporter_id": reporter,
                    "item_kind": "post",
                    "item_id": item,
                    "item_author_id": None,
                    "reason": _pick(rng, ("spam", "abuse", "off-topic", "other")),
                    "note": _pick(rng, REPORT_NOTES),
                    "status": status,
                    "open_key": 1 if is_open else None,
                    "created_at": created,
                    "closed_at": None if is_open else created + timedelta(hours=3),
                    "closed_by_id": None if is_open else _pick(rng, moderators),
                }
                rid += 1

        self.put("reports", rows(), self.plan.reports)


def _slugify(title: str) -> str:
    from fancampaign.text import slugify

    return slugify(title) or "thread"


# Counters -----------------------------------------------------------------------------

COUNTER_SQL = (
    # Signatures: confirmed rows only.
    "UPDATE petitions SET signature_count = 0",
    "UPDATE petitions SET signature_count = c.n FROM (SELECT petition_id, count(*) AS n "
    "FROM signatures WHERE confirmed_at IS NOT NULL GROUP BY petition_id) AS c "
    "WHERE petitions.id = c.petition_id",
    # Threads: visible posts, the replies among them, and the latest visible post.
    "UPDATE threads SET post_count = c.n, reply_count = c.n - c.firsts FROM (SELECT thread_id, "
    "count(*) AS n, sum(CASE WHEN is_first THEN 1 ELSE 0 END) AS firsts FROM posts "
    "WHERE NOT is_hidden AND NOT is_deleted GROUP BY thread_id) AS c "
    "WHERE threads.id = c.thread_id",
    "UPDATE threads SET last_activity_at = p.created_at, last_poster_id = p.author_id "
    "FROM (SELECT thread_id, max(id) AS last_id FROM posts WHERE NOT is_hidden AND NOT "
    "is_deleted GROUP BY thread_id) AS c JOIN posts AS p ON p.id = c.last_id "
    "WHERE threads.id = c.thread_id",
    # Categories: visible threads and their visible posts.
    "UPDATE categories SET thread_count = 0, post_count = 0",
    "UPDATE categories SET thread_count = c.n, post_count = c.posts FROM (SELECT category_id, "
    "count(*) AS n, sum(post_count) AS posts FROM threads WHERE NOT is_hidden "
    "GROUP BY category_id) AS c WHERE categories.id = c.category_id",
)


def set_counters(conn: sa.Connection) -> None:
    """Set every denormalised counter exactly from the rows."""
    if _table("petition_counter_slots") is not None:
        # The count is the petition's base plus its slots: the base takes it all.
        conn.execute(sa.text("DELETE FROM petition_counter_slots"))
    for statement in COUNTER_SQL:
        conn.execute(sa.text(statement))
    if _table("log_entries") is not None:
        # The petition logs start again from the rows: one `add` entry per confirmed
        # signature, placed in the tree by each petition's first checkpoint.
        for table in ("log_checkpoints", "log_nodes", "log_entries", "petition_logs"):
            conn.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608  (constant names)
        conn.execute(
            sa.text(
                "INSERT INTO log_entries (petition_id, kind, signature_id, created_at) "
                "SELECT petition_id, 'add', id, confirmed_at FROM signatures "
                "WHERE confirmed_at IS NOT NULL ORDER BY id"
            )
        )


def _slots_sql() -> str:
    if _table("petition_counter_slots") is None:
        return "0"
    return (
        "(SELECT coalesce(sum(c.count), 0) FROM petition_counter_slots c "
        "WHERE c.petition_id = petitions.id)"
    )


def counter_mismatches(conn: sa.Connection) -> list[str]:
    """Counters that disagree with the rows (empty when all is consistent)."""
    checks = {
        "petitions.signature_count": (
            "SELECT count(*) FROM petitions WHERE signature_count + "  # noqa: S608 (constant)
            + _slots_sql()
            + " <> (SELECT count(*) FROM signatures s WHERE s.petition_id = petitions.id "
            "AND s.confirmed_at IS NOT NULL)"
        ),
        "threads.post_count": (
            "SELECT count(*) FROM threads WHERE post_count <> (SELECT count(*) FROM posts p "
            "WHERE p.thread_id = threads.id AND NOT p.is_hidden AND NOT p.is_deleted)"
        ),
        "threads.reply_count": (
            "SELECT count(*) FROM threads WHERE reply_count <> (SELECT count(*) FROM posts p "
            "WHERE p.thread_id = threads.id AND NOT p.is_hidden AND NOT p.is_deleted "
            "AND NOT p.is_first)"
        ),
        "categories.thread_count": (
            "SELECT count(*) FROM categories WHERE thread_count <> (SELECT count(*) FROM "
            "threads t WHERE t.category_id = categories.id AND NOT t.is_hidden)"
        ),
        "categories.post_count": (
            "SELECT count(*) FROM categories WHERE post_count <> (SELECT coalesce(sum("
            "post_count), 0) FROM threads t WHERE t.category_id = categories.id "
            "AND NOT t.is_hidden)"
        ),
    }
    return [name for name, sql in checks.items() if conn.execute(sa.text(sql)).scalar()]


# The command --------------------------------------------------------------------------


def _link_subjects(
    conn: sa.Connection, subject_threads: dict[tuple[str, int], int], pairs: dict[str, str]
) -> None:
    for kind, table_name in pairs.items():
        table = _table(table_name)
        if table is None:
            continue
        values = [
            {"sid": sid, "tid": tid} for (k, sid), tid in subject_threads.items() if k == kind
        ]
        if values:
            conn.execute(
                table.update()
                .where(table.c.id == sa.bindparam("sid"))
                .values(thread_id=sa.bindparam("tid")),
                values,
            )


def drop_everything() -> None:
    """Drop every table of the database (and on PostgreSQL everything in `public`), so the
    schema is made again from the current models: --reset is for a database of its own."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        return
    # SQLite: outside any transaction, so that foreign keys can be switched off meanwhile.
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        listing = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        # Virtual tables first: dropping one drops its shadow tables.
        for name, sql in cursor.execute(listing).fetchall():
            if (sql or "").upper().startswith("CREATE VIRTUAL"):
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
        for name, _sql in cursor.execute(listing).fetchall():
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
    finally:
        raw.close()


def _fix_sequences(conn: sa.Connection) -> None:
    if conn.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement:
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "  # noqa: S608
                    f'coalesce((SELECT max(id) FROM "{table.name}"), 0) + 1, false)'
                )
            )


def reindex_search() -> bool:
    """Rebuild the full-text index with the search area's own function; True when it did.

    Its documents hold each post's plain text; the bench bodies come from a few templates,
    so the Markdown-to-text step (two thirds of the reindex time) is memoised meanwhile.
    """
    try:
        from fancampaign.search import indexer
    except ImportError:
        return False
    plain = getattr(indexer, "_plain", None)
    # Bigger batches than the default: fewer round trips for 400,000 posts.
    if callable(plain):
        with mock.patch.object(indexer, "_plain", functools.lru_cache(maxsize=4096)(plain)):
            indexer.reindex_all(batch_size=5000)
    else:
        indexer.reindex_all(batch_size=5000)
    return True


def _import_models() -> None:
    """Register every area's tables, even those whose views do not import them yet."""
    from fancampaign import AREAS

    for area in AREAS:
        try:
            importlib.import_module(f"fancampaign.{area}.models")
        except ModuleNotFoundError:
            continue


def generate(scale: float = 1.0, seed: int = 2019, reset: bool = False) -> dict[str, Any]:
    """Fill the database with the bench data set; returns counts, timings and the password."""
    from werkzeug.security import generate_password_hash

    _import_models()
    plan = Plan.at(scale)
    password = secrets.token_urlsafe(12)
    # One hash for every account: hashing 100,000 passwords would take longer than the rest.
    password_hash = generate_password_hash(password)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if reset:
        drop_everything()
    db.create_all()
    search_setup = getattr(db, "_search_setup", None)
    if search_setup is not None:
        search_setup()  # the search area's full-text table and triggers
    engine = db.engine
    with engine.begin() as conn:
        users_t = _table("users")
        assert users_t is not None
        if not reset and (
            conn.execute(
                sa.select(users_t.c.id)
                .where(users_t.c.username_lower.like(f"{USER_PREFIX}%"))
                .limit(1)
            ).first()
            and conn.execute(
                sa.select(users_t.c.id).where(users_t.c.email.like("%@bench.example.org")).limit(1)
            ).first()
        ):
            raise click.ClickException(
                "This database already has bench data: run with --reset to start again."
            )
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        loader = Loader(conn)
        now = datetime.now(UTC).replace(microsecond=0)
        gen = Generator(loader, plan, seed, now)

        def stage(name: str, function: Callable[[], Any]) -> Any:
            t0 = time.perf_counter()
            result = function()
            timings[name] = time.perf_counter() - t0
            return result

        user_ids, staff_ids = stage("users", lambda: gen.users(password_hash))
        categories = stage("categories", gen.categories)
        petitions = stage("petitions", lambda: gen.petitions(user_ids, staff_ids))
        stage("signatures", lambda: gen.signatures(petitions, user_ids))
        news = stage("news", lambda: gen.news(staff_ids, petitions))
        subjects = [
            ("news", r["id"], r["author_id"], r["published_at"], r["title"])
            for r in news
            if r["published_at"] is not None
        ] + [
            ("petition", p["id"], p["creator_id"], p["opened_at"], p["title"])
            for p in petitions
            if p["opened_at"] is not None
        ]
        subject_threads = stage(
            "forum", lambda: gen.forum(user_ids, staff_ids, categories, subjects)
        )
        _link_subjects(conn, subject_threads, {"news": "news_posts", "petition": "petitions"})
        stage("reports", lambda: gen.reports(user_ids, staff_ids))
        stage("counters", lambda: set_counters(conn))
        _fix_sequences(conn)
    # The search index is kept by the search area; it reads the committed rows.
    reindexed = stage("reindex", reindex_search)
    db.session.commit()
    # The rows went in through the connection, past the listeners that note what a commit
    # wrote: every cached page and fragment of the old data must go.
    pagecache.bump_all()
    t0 = time.perf_counter()
    # Planner statistics for the new rows; on PostgreSQL VACUUM also sets the visibility map
    # that index-only scans need.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    timings["analyze"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    return {
        "plan": plan,
        "counts": gen.counts,
        "timings": timings,
        "password": password,
        "reindexed": reindexed,
        "admin": f"{USER_PREFIX}{user_ids[0]}",
    }


@click.command("bench-data")
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0001, max=100),
    help="Multiply every amount (1 = 100,000 users, 1,000,000 signatures, 400,000 posts).",
)
@click.option("--seed", default=2019, show_default=True, help="Random seed (same seed, same data).")
@click.option(
    "--reset",
    is_flag=True,
    help="Drop every table of this database first and make the schema from the models.",
)
@with_appcontext
def bench_data_command(scale: float, seed: int, reset: bool) -> None:
    """Generate a large, realistic data set for the benchmarks (bulk inserts)."""
    plan = Plan.at(scale)
    click.echo(
        f"Generating bench data at scale {scale:g} on {db.engine.dialect.name}: "
        f"{plan.users:,} users, {plan.petitions:,} petitions with {plan.signatures:,} "
        f"signatures (one with {plan.big_petition:,}), {plan.news:,} news posts, "
        f"{plan.threads:,} threads with {plan.posts:,} posts, {plan.reports:,} reports."
    )
    result = generate(scale=scale, seed=seed, reset=reset)
    click.echo("")
    for name, count in result["counts"].items():
        click.echo(f"  {name:<22} {count:>10,}")
    click.echo(
        "  timings: "
        + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result["timings"].items())
    )
    if not result["reindexed"]:
        click.echo("  search index: not rebuilt (no fancampaign.search.indexer.reindex_all)")
    click.echo(
        f"Every bench account (fan<N>, e.g. {result['admin']}, the admin) has the password: "
        f"{result['password']}"
    )
