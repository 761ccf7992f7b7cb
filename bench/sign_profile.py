"""Where a signing request's time goes: the signing benchmark's requests replayed in-process.

    .venv/bin/python bench/sign_profile.py --database postgresql+psycopg://postgres@127.0.0.1/fc_sign_bench
    .venv/bin/python bench/sign_profile.py --calls        # Python function calls per signature
    .venv/bin/python bench/sign_profile.py --profile      # a pyinstrument tree

Prepares members and their cookies as bench/sign_bench.py does, then POSTs each one's
one-click signature through the test client (no server, no load): CPU and wall ms per
signature, and with --calls the function calls per signature (cProfile: the same on a quiet
or a busy machine, so before/after comparisons hold), by package.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The repository root instead of bench/ (whose profile.py would hide the standard library's).
sys.path[0] = str(ROOT)

from bench import sign_bench  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=sign_bench.DEFAULT_DB)
    parser.add_argument("--signatures", type=int, default=1000)
    parser.add_argument("--calls", action="store_true", help="count function calls (cProfile)")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument tree")
    parser.add_argument(
        "--statements", action="store_true", help="print the SQL statements of one signature"
    )
    parser.add_argument("--log", choices=("on", "off"), default="on", help="the petition log")
    args = parser.parse_args()
    requests_file = Path(tempfile.mkdtemp()) / "requests.tsv"
    options = argparse.Namespace(database=args.database, redis=None)
    info = sign_bench.prepare(options, args.signatures + 50, requests_file)
    os.environ["FANCAMPAIGN_LOG_ENABLED"] = "true" if args.log == "on" else "false"

    from fancampaign import create_app

    client = create_app().test_client(use_cookies=False)
    url = f"/petitions/{info['slug']}/sign"
    headers = {
        "User-Agent": sign_bench.USER_AGENT,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    lines = [line.rstrip("\n").split("\t") for line in requests_file.open()]

    def sign(batch: list[list[str]]) -> None:
        for cookie, body in batch:
            response = client.post(
                url,
                data=body,
                headers={**headers, "Cookie": cookie},
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
            )
            if response.status_code != 303:
                raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)}")

    sign(lines[:50])  # warm up: imports, statement caches, the connection pool
    measured = lines[50:]
    statements: list[str] = []
    with client.application.app_context():
        from sqlalchemy import event

        from fancampaign.extensions import db

        engine = db.engine

    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    def note_commit(_conn) -> None:  # type: ignore[no-untyped-def]
        statements.append("COMMIT")

    event.listen(engine, "before_cursor_execute", note)
    event.listen(engine, "commit", note_commit)
    sign(measured[:1])
    measured = measured[1:]
    event.remove(engine, "before_cursor_execute", note)
    event.remove(engine, "commit", note_commit)
    print(f"SQL per signature: {len(statements)} round trips (statements and commits)")
    if args.statements:
        for statement in statements:
            print(f"  {statement[:2000]}")
    started, cpu_started = time.perf_counter(), time.process_time()
    if args.calls:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(sign, measured)
        stats = pstats.Stats(profiler)
        print(f"function calls per signature: {stats.total_calls / len(measured):,.0f}")
        by_package: collections.Counter[str] = collections.Counter()
        for (filename, _line, _name), (_cc, calls, *_rest) in stats.stats.items():
            if "/fancampaign/" in filename:
                package = "fancampaign"
            elif "site-packages/" in filename:
                package = filename.split("site-packages/")[-1].split("/")[0]
            else:
                package = "(built-ins)" if filename == "~" else "(standard library)"
            by_package[package] += calls
        for package, calls in by_package.most_common(12):
            print(f"  {calls / len(measured):7,.0f}  {package}")
    elif args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
        sign(measured)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False))
    else:
        sign(measured)
    wall = (time.perf_counter() - started) / len(measured)
    cpu = (time.process_time() - cpu_started) / len(measured)
    print(f"{len(measured):,} signatures: {wall * 1000:.2f} ms wall, {cpu * 1000:.2f} ms CPU each")


if __name__ == "__main__":
    main()
