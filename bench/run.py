"""Benchmark fancampaign against the bare-Flask ceiling on the same machine, in the same run.

    .venv/bin/python bench/run.py --database sqlite:///$PWD/instance/bench.db
    .venv/bin/python bench/run.py --database postgresql+psycopg://postgres@127.0.0.1/fc_bench

Starts gunicorn (2 sync workers by default; `--worker-class gthread --threads 4` for the
threaded variant) for fancampaign (wsgi:app) and for bench/bare_app.py with the same settings,
then runs wrk against loopback for each page, anonymous and logged in, interleaved with the
bare figures, `--rounds` times (3), and prints the medians: req/s, p50, p99, and each page's
ratio to the bare query+template figure. Then the peak RSS of each worker, the CSV export of
the largest petition streamed while sampling the worker's RSS, and bench/sign_bench.py if
present. The data comes from `fancampaign bench-data` (run it first on that database).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
USER_AGENT = "fancampaign-bench/1.0"
# A fresh key per run: the cookies made below are signed with it.
SECRET_KEY = secrets.token_hex(32)
# The petition log's checkpoint key (production requires one): fresh per run too.
LOG_SIGNING_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Target:
    name: str
    path: str
    server: str  # "app" or "bare"
    login: bool = False


@dataclass
class Figure:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Result:
    name: str
    path: str
    login: bool
    runs: list[Figure] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(f.rps for f in self.runs) if self.runs else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(f.p50_ms for f in self.runs) if self.runs else 0.0

    @property
    def p99(self) -> float:
        return statistics.median(f.p99_ms for f in self.runs) if self.runs else 0.0

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.runs)


# Servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": args.database,
            "SECRET_KEY": SECRET_KEY,
            # Production settings: the address wrk uses, and the in-process test client's.
            "FANCAMPAIGN_BASE_URL": '"http://127.0.0.1"',
            "FANCAMPAIGN_ALLOWED_HOSTS": '["localhost"]',
            "FANCAMPAIGN_LOG_SIGNING_KEY": LOG_SIGNING_KEY,
            # Keep the limiter in the measured path, with limits wrk cannot reach.
            "FANCAMPAIGN_RATELIMIT_API": '"1000000 per minute"',
            "PYTHONDONTWRITEBYTECODE": "1",
            # Runs sharing one Redis keep their cached pages apart.
            "FANCAMPAIGN_PAGE_CACHE_PREFIX": json.dumps(f"bench-{os.getpid()}:"),
        }
    )
    if args.redis:
        env["REDIS_URL"] = args.redis
    else:
        env.pop("REDIS_URL", None)
    return env


@contextlib.contextmanager
def gunicorn(
    app_path: str, args: argparse.Namespace, workers: int | None = None, timeout: int = 120
) -> Iterator[Any]:
    port = free_port()
    command = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        str(workers or args.workers),
        "--worker-class",
        args.worker_class,
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
        "--timeout",
        str(timeout),
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    command.append(app_path)
    process = subprocess.Popen(command, cwd=ROOT, env=server_env(args))
    try:
        wait_for(port, process)
        yield Server(port=port, process=process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == self.process.pid:
                    pids.append(int(entry.name))
        return sorted(pids)


def wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def proc_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


# The data and the logged-in cookie --------------------------------------------------------


def discover(args: argparse.Namespace) -> dict[str, Any]:
    """Find the pages to benchmark in the bench data, and make the session cookies."""
    os.environ.update(server_env(args))
    import sqlalchemy as sa
    from flask import session
    from flask_login.utils import _create_identifier

    from fancampaign import create_app
    from fancampaign.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database,
            "SECRET_KEY": SECRET_KEY,
            "LOG_SIGNING_KEY": LOG_SIGNING_KEY,
        }
    )
    found: dict[str, Any] = {}
    with app.app_context():
        drift = schema_drift(db)
        if drift:
            raise SystemExit(
                "The bench database's schema is older than the models ("
                + ", ".join(drift[:5])
                + "): run `fancampaign bench-data --reset` on it again."
            )
        q = lambda sql, **kw: db.session.execute(sa.text(sql), kw).first()  # noqa: E731
        petition = q(
            "SELECT id, slug, creator_id FROM petitions WHERE status = 'open' "
            "ORDER BY signature_count DESC LIMIT 1"
        )
        if petition is None:
            raise SystemExit("No bench data here: run `fancampaign bench-data` first.")
        found["petition"] = {"id": petition.id, "slug": petition.slug}
        article = q(
            "SELECT n.slug FROM news_posts n JOIN threads t ON t.id = n.thread_id "
            "WHERE n.status = 'published' ORDER BY t.post_count DESC, n.published_at DESC LIMIT 1"
        )
        found["article"] = article.slug if article else None
        category = q("SELECT slug, thread_count FROM categories ORDER BY thread_count DESC LIMIT 1")
        found["category"] = category.slug
        found["category_last_page"] = max(1, -(-category.thread_count // 20))
        thread = q(
            "SELECT id, post_count FROM threads WHERE subject_kind IS NULL AND NOT is_hidden "
            "ORDER BY post_count DESC LIMIT 1"
        )
        found["thread"] = thread.id
        found["thread_last_page"] = max(1, -(-thread.post_count // 20))
        member = q(
            "SELECT id, session_token FROM users WHERE role = 'member' AND "
            "email_confirmed_at IS NOT NULL AND NOT is_banned ORDER BY id LIMIT 1 OFFSET 100"
        )
        creator = q("SELECT id, session_token FROM users WHERE id = :id", id=petition.creator_id)
        found["counts"] = {
            name: db.session.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
            for name in ("users", "petitions", "signatures", "threads", "posts")
        }
    found["cookie_member"] = session_cookie(app, member)
    found["cookie_creator"] = session_cookie(app, creator) if creator else None
    del session, _create_identifier
    return found


def schema_drift(db: Any) -> list[str]:
    """Tables and columns the models have and the database lacks."""
    import sqlalchemy as sa

    from fancampaign.benchdata import _import_models

    _import_models()
    inspector = sa.inspect(db.engine)
    tables = set(inspector.get_table_names())
    missing = []
    for table in db.metadata.sorted_tables:
        if table.name not in tables:
            missing.append(table.name)
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in have]
    return missing


def session_cookie(app: Any, user: Any) -> str:
    """A signed session cookie, as the browser of a logged-in user holds it after a page or
    two: the login (Flask-Login's user id and identifier) and a CSRF token."""
    from flask import session
    from flask_login.utils import _create_identifier

    environ = {"REMOTE_ADDR": "127.0.0.1"}
    with app.test_request_context("/", environ_base=environ, headers={"User-Agent": USER_AGENT}):
        session["_user_id"] = f"{user.id}:{user.session_token}"
        session["_fresh"] = True
        session["_id"] = _create_identifier()
        session["csrf_token"] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324
        value = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    return f"{app.config.get('SESSION_COOKIE_NAME', 'session')}={value}"


def targets(found: dict[str, Any], args: argparse.Namespace) -> list[Target]:
    deep = min(500, found["category_last_page"])
    pages = [
        ("home", "/"),
        ("petition (largest)", f"/petitions/{found['petition']['slug']}"),
        # A junk argument new on every request (wrk sends no cookie: a first visit from a link).
        ("petition ?utm_source=<n>", f"/petitions/{found['petition']['slug']}?utm_source={{n}}"),
        ("petition list", "/petitions"),
        ("article + comments", f"/news/{found['article']}" if found["article"] else None),
        ("forum category p1", f"/forum/{found['category']}"),
        (f"forum category p{deep}", f"/forum/{found['category']}?page={deep}"),
        ("thread p1", f"/forum/t/{found['thread']}"),
        ("thread last page", f"/forum/t/{found['thread']}?page={found['thread_last_page']}"),
        ("search", "/search?q=sequel"),
        ("API petition", api_petition_path(found, args)),
    ]
    chosen = [(n, p) for n, p in pages if p and (not args.only or any(o in n for o in args.only))]
    result = []
    for login in (False, True) if not args.anonymous_only else (False,):
        result += [Target(n, p, "app", login) for n, p in chosen]
    return result


def api_petition_path(found: dict[str, Any], args: argparse.Namespace) -> str:
    return args.api_path.format(**found["petition"])


# wrk ------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


_VARYING = Path(__file__).resolve().parent / "varying_query.lua"


def wrk(url: str, args: argparse.Namespace, cookie: str | None) -> Figure:
    command = [
        args.wrk,
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-H",
        f"User-Agent: {USER_AGENT}",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    tail = [url]
    if "{n}" in url:
        # A path with {n}: each request gets the next number there (a query that never repeats).
        command += ["-s", str(_VARYING)]
        host = url[: url.index("/", len("http://"))]
        tail = [host + "/", "--", url[len(host) :]]
    output = subprocess.run([*command, *tail], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(m.group(1))
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        # Sync workers close each connection: reads on closed sockets are expected, not errors.
        errors += int(m.group(1)) + int(m.group(4))
    return Figure(rps=rps, p50_ms=p50, p99_ms=p99, errors=errors)


def drain(server: Server, timeout: float = 180) -> None:
    """Wait until the requests wrk left queued are served (sync workers serve them in order
    after wrk has gone), so they do not eat into the next measurement."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = time.monotonic()
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
            conn.request("GET", "/__bench_drain__", headers={"User-Agent": USER_AGENT})
            conn.getresponse().read()
            conn.close()
            if time.monotonic() - before < 0.5:
                return
        time.sleep(0.1)


def check(url: str, cookie: str | None) -> tuple[int, int, str]:
    """One request: (status, size, cache header), so broken pages show before the run."""
    host, _, path = url.removeprefix("http://").replace("{n}", "0").partition("/")
    conn = http.client.HTTPConnection(host, timeout=60)
    headers = {"User-Agent": USER_AGENT}
    if cookie:
        headers["Cookie"] = cookie
    conn.request("GET", "/" + path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, len(body), response.getheader("Cache-Control") or ""


# Memory: the CSV export streamed ------------------------------------------------------------


def csv_export(server: Server, found: dict[str, Any]) -> dict[str, Any]:
    """Download the largest petition's CSV as its creator while sampling the workers' RSS."""
    if not found.get("cookie_creator"):
        return {"skipped": "no creator"}
    # Load the app and touch the petition first: "before" is a worker at work, not one booting.
    check(f"{server.base}/petitions/{found['petition']['slug']}", found["cookie_creator"])
    pids = server.worker_pids()
    before = {pid: proc_kb(pid, "VmRSS") for pid in pids}
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in pids:
                with contextlib.suppress(OSError):
                    peak[pid] = max(peak[pid], proc_kb(pid, "VmRSS"))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    conn.request(
        "GET",
        f"/petitions/{found['petition']['slug']}/signatures.csv",
        headers={"Cookie": found["cookie_creator"], "User-Agent": USER_AGENT},
    )
    response = conn.getresponse()
    size = lines = 0
    first_byte = None
    while chunk := response.read(65536):
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    conn.close()
    grew = max(peak[pid] - before[pid] for pid in pids) if pids else 0
    return {
        "status": response.status,
        "bytes": size,
        "rows": max(0, lines - 1),
        "seconds": round(elapsed, 2),
        "first_byte_s": round(first_byte or 0, 3),
        "rss_before_mb": round(max(before.values()) / 1024, 1) if before else 0,
        "rss_peak_mb": round(max(peak.values()) / 1024, 1) if peak else 0,
        "rss_growth_mb": round(grew / 1024, 1),
        "transfer_encoding": response.getheader("Transfer-Encoding") or "",
    }


# The run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    found = discover(args)
    app_targets = targets(found, args)
    bare = [
        Target("bare: hello", "/hello", "bare"),
        Target("bare: query+template", "/query", "bare"),
    ]
    results: dict[tuple[str, bool], Result] = {}
    for t in bare + app_targets:
        results[(t.name, t.login)] = Result(t.name, t.path, t.login)
    report: dict[str, Any] = {"data": found["counts"], "pages": {}}
    with (
        gunicorn("wsgi:app", args) as app_server,
        gunicorn("bench.bare_app:app", args) as bare_server,
    ):
        servers = {"app": app_server, "bare": bare_server}
        print(f"fancampaign on {app_server.base}, bare Flask on {bare_server.base}", flush=True)
        for t in bare + app_targets:
            cookie = found["cookie_member"] if t.login else None
            status, size, cache = check(servers[t.server].base + t.path, cookie)
            report["pages"][f"{t.name}{' (login)' if t.login else ''}"] = {
                "path": t.path,
                "status": status,
                "bytes": size,
                "cache_control": cache,
            }
            mark = "" if status == 200 else "   <-- not 200"
            print(f"  {status} {size:>7}B {'login' if t.login else 'anon ':5} {t.path}{mark}")
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}/{args.rounds}", flush=True)
            # The bare figures are measured between the pages, in every round.
            order = [bare[0], bare[1], *app_targets[: len(app_targets) // 2]]
            order += [bare[1], *app_targets[len(app_targets) // 2 :]]
            for t in order:
                cookie = found["cookie_member"] if t.login else None
                figure = wrk(servers[t.server].base + t.path, args, cookie)
                drain(servers[t.server])
                results[(t.name, t.login)].runs.append(figure)
                print(
                    f"    {t.name:<28} {'login' if t.login else 'anon':<5} {figure.rps:8.0f} "
                    f"req/s  p50 {figure.p50_ms:6.1f} ms  p99 {figure.p99_ms:6.1f} ms"
                    + (f"  errors {figure.errors}" if figure.errors else ""),
                    flush=True,
                )
        report["rss_mb"] = {
            name: {pid: round(proc_kb(pid, "VmHWM") / 1024, 1) for pid in server.worker_pids()}
            for name, server in servers.items()
        }
    report["found"] = {k: v for k, v in found.items() if not k.startswith("cookie")}
    report["cookie_creator"] = found.get("cookie_creator")
    report["results"] = [
        {**asdict(r), "rps": r.rps, "p50": r.p50, "p99": r.p99, "errors": r.errors}
        for r in results.values()
    ]
    return report


def table(report: dict[str, Any], args: argparse.Namespace) -> str:
    rows = report["results"]
    ceiling = next(r["rps"] for r in rows if r["name"] == "bare: query+template")
    lines = [
        "| page | who | req/s | p50 ms | p99 ms | vs bare query+template |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        who = "—" if r["name"].startswith("bare") else ("member" if r["login"] else "anon")
        ratio = r["rps"] / ceiling if ceiling else 0
        # The page cache's targets: visitors at 80% of the bare figure, members at 60%.
        target = 0.6 if r["login"] else 0.8
        flag = "" if r["name"].startswith("bare") or ratio >= target else " ✗"
        errors = f" ({r['errors']} errors)" if r["errors"] else ""
        lines.append(
            f"| {r['name']}{errors} | {who} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} "
            f"| {ratio:.0%}{flag} |"
        )
    return "\n".join(lines)


def describe_machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = proc_meminfo_gb()
    return f"{os.cpu_count()} cores ({cpu}), {mem} GB RAM, Python {sys.version.split()[0]}"


def proc_meminfo_gb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def sign_bench(args: argparse.Namespace) -> str | None:
    """bench/sign_bench.py (the petitions area's), on its own database unless --sign-args
    names one: it adds members and signatures, which would skew the next page run."""
    script = ROOT / "bench" / "sign_bench.py"
    if not script.exists():
        return None
    env = server_env(args)
    env.pop("DATABASE_URL", None)
    extra = ["--workers", str(args.workers), "--worker-class", args.worker_class]
    if args.worker_class == "gthread":
        extra += ["--threads", str(args.threads)]
    completed = subprocess.run(
        [sys.executable, str(script), *extra, *args.sign_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [
        line
        for line in (completed.stdout + completed.stderr).splitlines()
        if "Warning" not in line and "warnings.warn" not in line
    ]
    return "\n".join(lines)


def compare(paths: list[str]) -> None:
    """Page by page req/s of two runs (e.g. --scale 0.01 and the default): within 20%?

    Two columns: the raw req/s ratio, and the ratio of each page's share of its own run's
    bare query+template figure (which takes out how fast the machine was during each run).
    """
    a, b = (json.loads(Path(p).read_text()) for p in paths)
    index = {(r["name"], r["login"]): r for r in b["results"]}

    def ceiling(report: dict[str, Any]) -> float:
        bare = [r["rps"] for r in report["results"] if r["name"] == "bare: query+template"]
        return bare[0] if bare and bare[0] else 1.0

    base_a, base_b = ceiling(a), ceiling(b)
    names = [Path(p).stem for p in paths]
    print(
        f"| page | who | {names[0]} req/s | {names[1]} req/s | ratio | "
        f"{names[0]} vs bare | {names[1]} vs bare | ratio of shares |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| bare: query+template | — | {base_a:.0f} | {base_b:.0f} | {base_b / base_a:.2f} "
        "| 100% | 100% | |"
    )
    for r in a["results"]:
        other = index.get((r["name"], r["login"]))
        if other is None or r["name"].startswith("bare"):
            continue
        ratio = other["rps"] / r["rps"] if r["rps"] else 0
        share_a, share_b = r["rps"] / base_a, other["rps"] / base_b
        shares = share_b / share_a if share_a else 0
        flag = "" if 0.8 <= shares <= 1.25 else " ✗"
        who = "member" if r["login"] else "anon"
        print(
            f"| {r['name']} | {who} | {r['rps']:.0f} | {other['rps']:.0f} | {ratio:.2f} | "
            f"{share_a:.0%} | {share_b:.0%} | {shares:.2f}{flag} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="SQLAlchemy URL of the bench database")
    parser.add_argument("--redis", help="REDIS_URL for the app (page cache, rate limits)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk", default="/usr/bin/wrk")
    parser.add_argument("--only", nargs="*", help="only pages whose name contains one of these")
    parser.add_argument("--anonymous-only", action="store_true")
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--skip-sign", action="store_true")
    parser.add_argument("--sign-args", nargs="*", default=[])
    parser.add_argument("--api-path", default="/api/v1/petitions/{slug}")
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--compare", nargs=2, metavar="JSON", help="compare two saved runs")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare)
        return
    if not args.database:
        parser.error("--database is required")
    # Stop the servers on Ctrl+C or kill, not only on a normal end.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    report = run(args)
    report["machine"] = describe_machine()
    report["settings"] = {
        "database": args.database.split("://")[0],
        "workers": args.workers,
        "worker_class": args.worker_class,
        "threads": args.threads if args.worker_class == "gthread" else 1,
        "connections": args.connections,
        "duration": args.duration,
        "rounds": args.rounds,
        "redis": bool(args.redis),
    }
    report["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    found = {**report.pop("found"), "cookie_creator": report.pop("cookie_creator")}
    print()
    s = report["settings"]
    print(
        f"{s['database']}, gunicorn {s['workers']} {s['worker_class']} workers"
        f"{' x ' + str(s['threads']) + ' threads' if s['threads'] > 1 else ''}, wrk "
        f"{s['connections']} connections, {s['duration']} s x {s['rounds']} rounds (medians), "
        f"Redis {'on' if s['redis'] else 'off'}; {report['machine']}"
    )
    print("data: " + ", ".join(f"{k} {v:,}" for k, v in report["data"].items()))
    print()
    print(table(report, args))
    print()
    print("peak RSS per worker (MB): " + json.dumps(report["rss_mb"]), flush=True)
    save(report, args)
    if not args.skip_csv:
        # One worker, and a timeout long enough for the whole download: a sync worker that
        # streams does not heartbeat, so gunicorn's default 30 s would kill a long export.
        with gunicorn("wsgi:app", args, workers=1, timeout=1800) as server:
            report["csv_export"] = csv_export(server, found)
        print("CSV export of the largest petition: " + json.dumps(report["csv_export"]))
        save(report, args)
    if not args.skip_sign:
        output = sign_bench(args)
        if output is not None:
            report["sign_bench"] = output
            print("\nbench/sign_bench.py:\n" + output)
            save(report, args)
    print(f"\n({time.time() - started:.0f} s)")


def save(report: dict[str, Any], args: argparse.Namespace) -> None:
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
