"""Sustained signing throughput: many logged-in members signing one petition at once.

    .venv/bin/python bench/sign_bench.py                      # PostgreSQL fc_sign_bench
    .venv/bin/python bench/sign_bench.py --database postgresql+psycopg://postgres@127.0.0.1/x \
        --connections 64 --duration 20 --workers 2 --worker-class sync

What it does (nothing here is a test; it measures):

1. Prepares the database (create_all if the tables are missing), a fresh open petition, and
   enough confirmed members for the whole run, bulk-inserted (one executemany).
2. Pre-computes each member's signed session cookie with the app's secret through Flask's
   own session serializer (a login and a CSRF token, as the browser holds them after
   visiting the petition page), and the matching form body with the CSRF token: no
   bench-only code path exists in the app.
3. Starts gunicorn on wsgi:app (2 gthread workers x 8 threads by default), warms it up,
   then runs wrk with `--connections` concurrent connections for `--duration` seconds: each
   request is one member's one-click `POST /petitions/<slug>/sign` (every member once).
4. Reports confirmed signatures per second (rows in the database / wrk's measured time),
   wrk's latency percentiles (p50, p99), the responses that were not a 303 redirect, and
   checks that the petition's counter equals its rows exactly (and, with the petition log
   on, that the log has one entry per confirmed row).
5. Does 1-4 twice in the same run, on two fresh petitions: with the petition log off
   (LOG_ENABLED=false) and on, and reports the log's share.
6. Measures, in the same run, bench/bare_app.py under the same gunicorn settings and wrk
   load: GET /hello, GET /query (one query and a template), and the write ceiling POST
   /write (one INSERT into a table with a unique (petition, user) constraint, one counter
   `UPDATE ... n = n + 1`, COMMIT, 303), and reports signing as a share of the write ceiling.

Rate limits stay on, with the signing limit raised so one IP can do this.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
USER_AGENT = "fancampaign-sign-bench/1.0"
SECRET_KEY = "sign-bench-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:32]
LOG_SIGNING_KEY = base64.b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fc_sign_bench"

LUA = r"""
-- Each wrk thread takes its own slice of the prepared requests (one member each).
local counter = 1
local threads = {}
local bodies = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  local n = 0
  for line in io.lines(path) do
    if n % nthreads == id then
      local tab = line:find("\t")
      table.insert(bodies, {line:sub(1, tab - 1), line:sub(tab + 1)})
    end
    n = n + 1
  end
  other = 0
  exhausted = 0
end

function request()
  local item = bodies[counter]
  if item == nil then
    exhausted = exhausted + 1
    item = bodies[1]
  else
    counter = counter + 1
  end
  return wrk.format("POST", nil, {
    ["Cookie"] = item[1],
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["User-Agent"] = "fancampaign-sign-bench/1.0",
  }, item[2])
end

function response(status, headers, body)
  if status ~= 303 then other = other + 1 end
end

function done(summary, latency, requests)
  local others, exh = 0, 0
  for _, t in ipairs(threads) do
    others = others + t:get("other")
    exh = exh + t:get("exhausted")
  end
  io.write(string.format(
    "JSON {\"requests\": %d, \"seconds\": %.3f, \"p50_ms\": %.2f, \"p90_ms\": %.2f, " ..
    "\"p99_ms\": %.2f, \"max_ms\": %.2f, \"non_303\": %d, \"socket_errors\": %d, " ..
    "\"timeouts\": %d, \"exhausted\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    others, summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, exh))
end
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=20, help="seconds of load")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=8, help="threads per gthread worker")
    parser.add_argument(
        "--users", type=int, default=0, help="members to create (default: 2,500 per second)"
    )
    parser.add_argument(
        "--redis", help="REDIS_URL for the app (rate limits, page-cache invalidation)"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the bare-Flask ceiling measurement"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="record each gunicorn worker with py-spy during the load (folded stacks in DIR)",
    )
    return parser.parse_args()


def app_env(args: argparse.Namespace, log: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": args.database,
            "SECRET_KEY": SECRET_KEY,
            # Production settings: the address wrk uses, and the in-process test client's.
            "FANCAMPAIGN_BASE_URL": '"http://127.0.0.1"',
            "FANCAMPAIGN_ALLOWED_HOSTS": '["localhost"]',
            "FANCAMPAIGN_LOG_SIGNING_KEY": LOG_SIGNING_KEY,
            "FANCAMPAIGN_LOG_ENABLED": "true" if log else "false",
            "FANCAMPAIGN_RATELIMIT_SIGN": '"100000000 per minute"',
            "FANCAMPAIGN_RATELIMIT_SIGN_IP": '"100000000 per minute"',
            "FANCAMPAIGN_MAIL_BACKEND": '"console"',
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.pop("REDIS_URL", None)
    if args.redis:  # as production runs: rate limits and the page cache's versions in Redis
        env["REDIS_URL"] = args.redis
    return env


def prepare(args: argparse.Namespace, users: int, requests_file: Path) -> dict[str, Any]:
    """A fresh petition and `users` members; their cookies and form bodies into the file."""
    os.environ.update(app_env(args))
    import sqlalchemy as sa
    from flask import session
    from flask_login.utils import _create_identifier
    from flask_wtf.csrf import generate_csrf

    from fancampaign import create_app
    from fancampaign.accounts.models import Role, User, new_session_token
    from fancampaign.extensions import db, utcnow
    from fancampaign.petitions.models import Petition

    app = create_app()
    run = uuid.uuid4().hex[:8]
    with app.app_context():
        db.create_all()
        organiser = db.session.scalar(sa.select(User).where(User.username_lower == "signbenchorg"))
        if organiser is None:
            organiser = User(
                username="signbenchorg",
                username_lower="signbenchorg",
                email="signbenchorg@bench.invalid",
                role=Role.ORGANISER,
                email_confirmed_at=utcnow(),
            )
            db.session.add(organiser)
            db.session.flush()
        petition = Petition(
            slug=f"sign-bench-{run}",
            title=f"Sign bench {run}",
            summary="A petition for the signing benchmark.",
            target="The benchmark",
            goal=1000,
            status="open",
            opened_at=utcnow(),
            creator_id=organiser.id,
        )
        db.session.add(petition)
        now = utcnow()
        rows = [
            {
                "username": f"sb{run}_{i}",
                "username_lower": f"sb{run}_{i}",
                "email": f"sb{run}_{i}@bench.invalid",
                "display_name": "",
                "bio": "",
                "role": Role.MEMBER,
                "email_confirmed_at": now,
                "is_banned": False,
                "session_token": new_session_token(),
                "created_at": now,
            }
            for i in range(users)
        ]
        started = time.monotonic()
        db.session.execute(sa.insert(User), rows)
        db.session.commit()
        created = time.monotonic() - started
        members = db.session.execute(
            sa.select(User.id, User.session_token)
            .where(User.username_lower.like(f"sb{run}\\_%", escape="\\"))
            .order_by(User.id)
        ).all()
        slug, petition_id = petition.slug, petition.id

    cookie_name = app.config.get("SESSION_COOKIE_NAME", "session")
    serializer = app.session_interface.get_signing_serializer(app)
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    with requests_file.open("w") as out:
        for user_id, token in members:
            with app.test_request_context(
                "/", environ_base=environ, headers={"User-Agent": USER_AGENT}
            ):
                session["_user_id"] = f"{user_id}:{token}"
                session["_fresh"] = True
                session["_id"] = _create_identifier()
                csrf = generate_csrf()
                value = serializer.dumps(dict(session))
            out.write(f"{cookie_name}={value}\tcsrf_token={csrf}&country=GB&is_public=y\n")
    return {
        "slug": slug,
        "petition_id": petition_id,
        "users": len(members),
        "bulk_insert_s": round(created, 2),
    }


def count(args: argparse.Namespace, petition_id: int) -> tuple[int, int, int]:
    """(the petition's counter, its confirmed rows, its log's add entries)."""
    import sqlalchemy as sa

    from fancampaign import create_app
    from fancampaign.extensions import db
    from fancampaign.ledger.models import LogEntry
    from fancampaign.petitions.models import Petition, Signature

    app = create_app()
    with app.app_context():
        stored = db.session.scalar(
            sa.select(Petition.signature_count).where(Petition.id == petition_id)
        )
        rows = db.session.scalar(
            sa.select(sa.func.count()).where(
                Signature.petition_id == petition_id, Signature.confirmed_at.is_not(None)
            )
        )
        entries = db.session.scalar(
            sa.select(sa.func.count()).where(
                LogEntry.petition_id == petition_id, LogEntry.kind == "add"
            )
        )
        db.engine.dispose()
    return int(stored or 0), int(rows or 0), int(entries or 0)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int | str) -> float:
    """CPU seconds (user + system) a process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def workers(master: int) -> list[str]:
    return Path(f"/proc/{master}/task/{master}/children").read_text().split()


def backends(args: argparse.Namespace) -> list[int]:
    """The PostgreSQL backends connected to the bench database (the server's pool), for
    their CPU: the database's share of a request, which the machine's load cannot hide."""
    if not args.database.startswith("postgresql"):
        return []
    import sqlalchemy as sa

    engine = sa.create_engine(args.database, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        pids = conn.scalars(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ).all()
    engine.dispose()
    return list(pids)


class CpuMeter:
    """CPU seconds used by the server's workers and its database backends during a load (a
    backend that connects during the load counts from its start)."""

    def __init__(self, args: argparse.Namespace, master: int) -> None:
        self.args = args
        self.pids = workers(master)
        self.app = sum(process_cpu(pid) for pid in self.pids)
        self.db = {pid: process_cpu(pid) for pid in backends(args)}

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request since the meter started: app workers, database."""
        app = sum(process_cpu(pid) for pid in self.pids) - self.app
        db = sum(process_cpu(pid) - self.db.get(pid, 0.0) for pid in backends(self.args))
        return {
            "app_cpu_ms": round(app * 1000 / max(requests, 1), 2),
            "db_cpu_ms": round(db * 1000 / max(requests, 1), 2),
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a busy machine starts gunicorn slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited at start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz")


def gunicorn_command(args: argparse.Namespace, port: int, app: str) -> list[str]:
    command = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    return [*command, app]


def run_wrk(
    args: argparse.Namespace,
    seconds: int,
    url: str,
    *options: str,
    script_args: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """wrk with the run's threads and connections for `seconds` against `url`."""
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections)]
    command += ["-d", f"{seconds}s", *options, url]
    if script_args:
        command += ["--", *script_args]
    return subprocess.run(command, capture_output=True, text=True, check=True)


POST_LUA = """
wrk.method = "POST"
wrk.body = "x=1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


def measure_ceiling(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    """The framework ceiling in the same run: bench/bare_app.py under the same gunicorn
    settings and the same wrk load, GET /hello and GET /query (one primary-key query and a
    small template), and the write ceiling POST /write (one INSERT under a unique (petition,
    user) constraint, one counter `n = n + 1`, COMMIT, 303), in requests per second."""
    port = free_port()
    env = {**app_env(args), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(gunicorn_command(args, port, "bench.bare_app:app"), cwd=ROOT, env=env)
    post = tmp / "post.lua"
    post.write_text(POST_LUA)
    figures = {}
    try:
        wait_for(f"http://127.0.0.1:{port}/hello", server)
        for name in ("hello", "query", "write"):
            options = ["-s", str(post)] if name == "write" else []
            meter = CpuMeter(args, server.pid)
            completed = run_wrk(
                args, min(args.duration, 10), f"http://127.0.0.1:{port}/{name}", *options
            )
            match = re.search(r"Requests/sec:\s+([\d.]+)", completed.stdout)
            total = re.search(r"(\d+) requests in", completed.stdout)
            if not match or not total:
                raise SystemExit(completed.stdout + completed.stderr)
            if name == "write" and "Non-2xx or 3xx responses" in completed.stdout:
                raise SystemExit("the write ceiling answered errors:\n" + completed.stdout)
            figures[f"bare_{name}_rps"] = float(match.group(1))
            if name == "write":
                cpu = meter.per_request(int(total.group(1)))
                figures.update({f"bare_write_{key}": value for key, value in cpu.items()})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return figures


def start_profilers(args: argparse.Namespace, master: int) -> list[subprocess.Popen[bytes]]:
    """py-spy on every worker of the gunicorn master, for the length of the load."""
    if not args.profile:
        return []
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [
        subprocess.Popen(
            [
                str(VENV_BIN / "py-spy"),
                "record",
                "--pid",
                pid,
                "--duration",
                str(args.duration),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(out / f"worker-{pid}.folded"),
                "--nonblocking",
                "--gil",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in children
    ]


def sign_once(args: argparse.Namespace, tmp: Path, users: int, *, log: bool) -> dict[str, Any]:
    """One signing measurement on a fresh petition, with the petition log on or off."""
    phase = "on" if log else "off"
    requests_file = tmp / f"requests-{phase}.tsv"
    script = tmp / "sign.lua"
    script.write_text(LUA)
    info = prepare(args, users, requests_file)
    port = free_port()
    server = subprocess.Popen(
        gunicorn_command(args, port, "wsgi:app"), cwd=ROOT, env=app_env(args, log=log)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", server)
        for _ in range(20):  # warm every worker up (imports, connection pool)
            urllib.request.urlopen(f"{base}/petitions/{info['slug']}", timeout=10).read()  # noqa: S310
        spies = start_profilers(args, server.pid)
        meter = CpuMeter(args, server.pid)
        completed = run_wrk(
            args,
            args.duration,
            f"{base}/petitions/{info['slug']}/sign",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            script_args=[str(requests_file), str(args.wrk_threads)],
        )
        match = re.search(r"^JSON (.*)$", completed.stdout, flags=re.M)
        if not match:
            raise SystemExit(completed.stdout + completed.stderr)
        figures = json.loads(match.group(1))
        figures.update(meter.per_request(figures["requests"]))
        for spy in spies:
            spy.wait(timeout=60)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    stored, rows, entries = count(args, info["petition_id"])
    return {
        **info,
        "log": log,
        **figures,
        "confirmed_rows": rows,
        "counter": stored,
        "log_entries": entries,
        "exact": stored == rows and entries == (rows if log else 0),
        "signatures_per_second": round(rows / figures["seconds"], 1),
    }


def main() -> None:
    args = parse_args()
    users = args.users or 2500 * args.duration
    print(f"preparing {users:,} members per run on {re.sub(r'//[^@]*@', '//', args.database)} ...")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [sign_once(args, Path(tmp), users, log=log) for log in (False, True)]
        ceiling = {} if args.no_ceiling else measure_ceiling(args, Path(tmp))
    result = {
        "database": args.database.split("+", 1)[0].split(":", 1)[0],
        "workers": args.workers,
        "worker_class": args.worker_class,
        "connections": args.connections,
        "redis": bool(args.redis),
        "log_off": runs[0],
        "log_on": runs[1],
        **ceiling,
    }
    for run in runs:
        print(
            f"log {'on ' if run['log'] else 'off'}: {run['signatures_per_second']:,.0f} "
            f"confirmed signatures/s over {run['seconds']:.1f} s with {args.connections} "
            f"concurrent signers ({args.workers} {args.worker_class} gunicorn workers, "
            f"{result['database']}{' + Redis' if args.redis else ''}); latency p50 "
            f"{run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms; {run['requests']:,} requests, "
            f"{run['non_303']} not 303, {run['socket_errors']} socket errors, "
            f"{run['exhausted']} beyond the members; counter {run['counter']:,}, rows "
            f"{run['confirmed_rows']:,}, log entries {run['log_entries']:,}: "
            f"{'exact' if run['exact'] else 'DRIFT'}; CPU per request: app "
            f"{run['app_cpu_ms']:.2f} ms, database {run['db_cpu_ms']:.2f} ms"
        )
    off, on = runs[0]["signatures_per_second"], runs[1]["signatures_per_second"]
    print(f"signing with the log = {on / off:.0%} of signing without it (same run)")
    if ceiling:
        write = ceiling["bare_write_rps"]
        print(
            f"same-run ceiling, bare Flask under the same gunicorn and load: "
            f"hello {ceiling['bare_hello_rps']:,.0f} req/s, one query + template "
            f"{ceiling['bare_query_rps']:,.0f} req/s, write (INSERT + counter + COMMIT + 303) "
            f"{write:,.0f} req/s; signing with the log = {on / write:.0%} of the write "
            f"ceiling (without: {off / write:.0%})"
        )
        bare_app, bare_db = ceiling["bare_write_app_cpu_ms"], ceiling["bare_write_db_cpu_ms"]
        on_app, on_db = runs[1]["app_cpu_ms"], runs[1]["db_cpu_ms"]
        off_app, off_db = runs[0]["app_cpu_ms"], runs[0]["db_cpu_ms"]
        print(
            f"CPU per request (what the machine's load does not change): write ceiling app "
            f"{bare_app:.2f} ms + database {bare_db:.2f} ms; signing, log off "
            f"{off_app:.2f} + {off_db:.2f} ms, log on {on_app:.2f} + {on_db:.2f} ms: signing "
            f"with the log costs {(on_app + on_db) / (bare_app + bare_db):.1f}x the write "
            f"ceiling's CPU; the log adds {(on_app + on_db) / (off_app + off_db) - 1:.0%}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if any(not run["exact"] or run["non_303"] for run in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
