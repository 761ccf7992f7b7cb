"""Where a page's time goes: pyinstrument over N requests through the test client, in-process.

    .venv/bin/pip install pyinstrument      # into the venv only; not a project dependency
    .venv/bin/python bench/profile.py --database sqlite:///$PWD/instance/bench.db
    .venv/bin/python bench/profile.py --database ... --only thread --login --requests 200

For each page it prints the mean time and SQL statements per request, then the profile
(the call tree above --threshold % of the time). The pages are the ones bench/run.py measures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run as bench_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--redis")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--login", action="store_true", help="as a logged-in member")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=3.0, help="hide frames under this %")
    parser.add_argument("--api-path", default="/api/v1/petitions/{slug}")
    parser.add_argument("--anonymous-only", action="store_true")
    parser.add_argument("--html", help="also write an HTML profile per page into this folder")
    parser.add_argument(
        "--all", action="store_true", help="show library frames too (Flask, SQLAlchemy, ...)"
    )
    parser.add_argument(
        "--timing",
        action="store_true",
        help="no profiler: time each page in-process against the bare app's /query, also "
        "in-process (a quick share-of-bare estimate without gunicorn and wrk)",
    )
    args = parser.parse_args()
    args.worker_class, args.workers, args.threads = "sync", 1, 1

    import sqlalchemy as sa

    found = bench_run.discover(args)
    os.environ["SECRET_KEY"] = bench_run.SECRET_KEY
    os.environ["FANCAMPAIGN_LOG_SIGNING_KEY"] = bench_run.LOG_SIGNING_KEY
    from fancampaign import create_app
    from fancampaign.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database})
    statements = 0

    def count(*_a: Any) -> None:
        nonlocal statements
        statements += 1

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    client = app.test_client()
    headers = {"User-Agent": bench_run.USER_AGENT}
    if args.login:
        name, _, value = found["cookie_member"].partition("=")
        client.set_cookie(name, value, domain="localhost")
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    if args.timing:
        bare = _bare_time(args)
        print(f"bare /query in-process: {bare * 1000:.3f} ms/request")
    for target in bench_run.targets(found, args):
        if target.login != args.login:
            continue
        for _ in range(3):  # warm caches (templates, statement cache, pages)
            response = client.get(target.path, headers=headers, environ_base=environ)
        statements = 0
        if args.timing:
            elapsed = _best_time(
                lambda path=target.path: client.get(path, headers=headers, environ_base=environ),
                args.requests,
            )
            print(
                f"{target.name:<28} {'member' if args.login else 'anon':<6} "
                f"{elapsed * 1000:7.3f} ms  {statements / args.requests / 5:4.1f} SQL  "
                f"{bare / elapsed:6.1%} of bare"
            )
            continue
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        cpu_started = time.process_time()
        profiler.start()
        for _ in range(args.requests):
            response = client.get(target.path, headers=headers, environ_base=environ)
        profiler.stop()
        elapsed = (time.perf_counter() - started) / args.requests
        cpu = (time.process_time() - cpu_started) / args.requests
        print("=" * 100)
        print(
            f"{target.name} ({'member' if args.login else 'anon'}) {target.path}: "
            f"status {response.status_code}, {len(response.data)} B, "
            f"{elapsed * 1000:.2f} ms/request ({cpu * 1000:.2f} ms CPU in this process), "
            f"{statements / args.requests:.1f} SQL/request"
        )
        print(
            profiler.output_text(
                unicode=True, color=False, show_all=False, time="percent_of_total"
            ).replace("\n\n", "\n")
            if args.threshold <= 0
            else _trimmed(profiler, args.threshold, show_all=args.all)
        )
        if args.html:
            folder = Path(args.html)
            folder.mkdir(parents=True, exist_ok=True)
            name = "".join(c if c.isalnum() else "-" for c in target.name)
            (folder / f"{name}{'-login' if args.login else ''}.html").write_text(
                profiler.output_html()
            )


def _best_time(call: Any, requests: int, rounds: int = 5) -> float:
    """Seconds per call: the best of `rounds` means over `requests` calls (the least noise)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            call()
        best = min(best, (time.perf_counter() - started) / requests)
    return best


def _bare_time(args: argparse.Namespace) -> float:
    """The bare app's /query (one primary-key query and a small template), in-process."""
    os.environ["DATABASE_URL"] = args.database
    from bench import bare_app

    client = bare_app.app.test_client()
    for _ in range(10):
        client.get("/query")
    return _best_time(lambda: client.get("/query"), args.requests)


def _trimmed(profiler: Any, threshold: float, show_all: bool = False) -> str:
    from pyinstrument.renderers import ConsoleRenderer

    renderer = ConsoleRenderer(
        unicode=True,
        color=False,
        show_all=show_all,
        time="percent_of_total",
        processor_options={"filter_threshold": threshold / 100},
    )
    return profiler.output(renderer)


if __name__ == "__main__":
    main()
