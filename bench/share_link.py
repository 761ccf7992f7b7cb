"""The petition page as a visitor gets it, with and without a share link's `?r=<code>`.

    .venv/bin/python bench/share_link.py --redis redis://127.0.0.1:6379/7 [--requests 400]

A rough, in-process figure (the Flask test client, one thread, SQLite in a temporary
folder, the page cache on Redis), for the comparison only: a share link (`?r=` with a new
random code on every request, as a campaign's links arrive) answers a redirect that keeps
the code in the visitor's session, then the page is the one cached page every visitor
gets; without the redirect each new code would be a page of its own, rendered afresh.
Prints the median time per request of both, and their ratio. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fancampaign import create_app  # noqa: E402
from fancampaign.extensions import db  # noqa: E402
from fancampaign.petitions.models import CODE_ALPHABET  # noqa: E402


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="share-bench-"))
    app = create_app(
        {
            "SECRET_KEY": secrets.token_hex(16),
            "LOG_SIGNING_KEY": "YmVuY2gtbG9nLXNpZ25pbmcta2V5LTMyLWJ5dGVzISE=",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
            "REDIS_URL": args.redis,
            "PAGE_CACHE_ENABLED": True,
            "PAGE_CACHE_PREFIX": f"share-bench-{secrets.token_hex(4)}:",
            "RATELIMIT_ENABLED": False,
            "BASE_URL": "http://localhost",
            "SERVER_NAME": "localhost",
            "UPLOAD_FOLDER": str(folder / "uploads"),
            "TESTING": True,
        }
    )
    with app.app_context():
        db.create_all()
        from tests.factories import make_petition, make_user

        petition = make_petition(make_user("benchorganiser", role="organiser"), goal=5000)
        slug = petition.slug
    client = app.test_client()

    def timed(path: str, follow: bool) -> float:
        started = time.perf_counter()
        response = client.get(path, follow_redirects=follow)
        assert response.status_code == 200, response.status_code
        return time.perf_counter() - started

    plain_path = f"/petitions/{slug}"
    for _ in range(20):  # warm up: templates compiled, the page cached
        timed(plain_path, False)
        timed(f"{plain_path}?r={_code()}", True)
    plain, shared, fresh = [], [], []
    for _ in range(args.requests):  # interleaved, so all see the same machine
        plain.append(timed(plain_path, False))
        shared.append(timed(f"{plain_path}?r={_code()}", True))
        # What a code kept in the address would cost: a page key of its own, rendered.
        fresh.append(timed(f"{plain_path}?utm_content={_code()}", False))
    p, s, f = (statistics.median(times) * 1000 for times in (plain, shared, fresh))
    n = args.requests
    print(f"petition page, no code:                     {p:.2f} ms (median of {n})")
    print(f"petition page, ?r=<random> (302, then hit): {s:.2f} ms, {s / p:.2f}x")
    print(f"petition page, ?utm_content=<random> (miss): {f:.2f} ms, {f / p:.2f}x")


if __name__ == "__main__":
    main()
