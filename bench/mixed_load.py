"""The petition page for visitors while members sign it and others reply in the forum.

    .venv/bin/python bench/mixed_load.py                    # PostgreSQL fc_sign_bench, no Redis
    .venv/bin/python bench/mixed_load.py --redis redis://127.0.0.1:6379/7
    .venv/bin/python bench/mixed_load.py --database sqlite:///$PWD/instance/mixed.db

What it does (nothing here is a test; it measures):
1. A fresh open petition, a forum thread, and enough confirmed members for every write of the
   run (bench/sign_bench.py's `prepare`: signed session cookies and CSRF tokens, no bench-only
   code path in the app); the members are old enough not to be rate-limited as newcomers.
2. gunicorn for the app and for bench/bare_app.py, the same settings.
3. Alone: signing (`POST /petitions/<slug>/sign`, each member once), replying (`POST
   /forum/t/<id>/reply`), the petition page for visitors (no cookie, as a first visit from a
   shared link), and the bare query+template ceiling.
4. Under writers (signing and replying at once, then each alone): the petition page for
   visitors and, separately, the bare ceiling under the same writers; the page's share of
   that ceiling, and the writers' own rates against their solo figures, both beside the
   app's page and beside the bare app's (`*_share_of_solo_beside_bare`: what the machine
   leaves the writers when readers take their share of its cores).
5. All the while, a checker reads the committed count, then asks for the page: the count the
   page shows must never be below the count committed before the request began.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sign_bench
from sign_bench import LUA, ROOT, app_env, free_port, gunicorn_command, prepare, wait_for

REPLY_LUA = LUA.replace("if status ~= 303 then", "if status ~= 302 and status ~= 303 then")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=sign_bench.DEFAULT_DB)
    parser.add_argument("--redis", help="REDIS_URL for the app (page cache, rate limits)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16, help="readers' connections")
    parser.add_argument("--writers", type=int, default=8, help="connections per writer")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--users", type=int, default=40_000, help="members made for the run")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    args.profile = None
    return args


def _rps(output: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        raise SystemExit(output)
    return float(match.group(1))


def _json(output: str) -> dict[str, Any]:
    match = re.search(r"^JSON (.*)$", output, flags=re.M)
    if not match:
        raise SystemExit(output)
    return json.loads(match.group(1))  # type: ignore[no-any-return]


class Load:
    """A wrk run in the background."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def output(self) -> str:
        out, err = self.process.communicate(timeout=300)
        if self.process.returncode:
            raise SystemExit(err.decode())
        return out.decode()


def wrk(args: argparse.Namespace, url: str, connections: int, *options: str) -> list[str]:
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(connections)]
    return [*command, "-d", f"{args.duration}s", "--timeout", "10s", "--latency", *options, url]


class Checker(threading.Thread):
    """Reads the committed count, then the page: the page may never show less."""

    def __init__(self, args: argparse.Namespace, url: str, petition_id: int) -> None:
        super().__init__(daemon=True)
        import sqlalchemy as sa

        self.url = url
        self.engine = sa.create_engine(
            args.database.replace("postgresql://", "postgresql+psycopg://")
        )
        self.query = sa.text(
            "SELECT p.signature_count + COALESCE((SELECT SUM(s.count) "
            "FROM petition_counter_slots s WHERE s.petition_id = p.id), 0) "
            "FROM petitions p WHERE p.id = :id"
        )
        self.petition_id = petition_id
        self.stopping = threading.Event()
        self.checks = self.below = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.engine.connect() as conn:
                committed = int(conn.execute(self.query, {"id": self.petition_id}).scalar() or 0)
            with urllib.request.urlopen(self.url, timeout=10) as response:  # noqa: S310
                html = response.read().decode()
            shown = int(re.search(r'data-signature-count="(\d+)"', html).group(1))
            self.checks += 1
            if shown < committed:
                self.below += 1
            time.sleep(0.05)

    def stop(self) -> dict[str, int]:
        self.stopping.set()
        self.join(timeout=30)
        self.engine.dispose()
        return {"checks": self.checks, "below_committed": self.below}


def prepare_run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """The petition, the members (old accounts), a thread, and one request file per phase."""
    members = tmp / "members.tsv"
    info = prepare(args, args.users, members)
    import sqlalchemy as sa

    from fancampaign import create_app
    from fancampaign.accounts.models import User
    from fancampaign.extensions import db, utcnow
    from fancampaign.forum import services as forum
    from fancampaign.forum.models import Category

    run = info["slug"].removeprefix("sign-bench-")
    app = create_app()
    with app.app_context():
        db.session.execute(
            sa.update(User)
            .where(User.username_lower.like(f"sb{run}\\_%", escape="\\"))
            .values(created_at=utcnow() - timedelta(days=365))
        )
        organiser = db.session.scalar(sa.select(User).where(User.username_lower == "signbenchorg"))
        category = db.session.scalar(sa.select(Category).where(Category.slug == "mixed-bench"))
        if category is None:
            category = Category(slug="mixed-bench", name="Mixed bench", description="")
            db.session.add(category)
            db.session.flush()
        thread = forum.create_thread(
            organiser, category, f"Mixed load {run}", "Replies arrive here during the bench."
        )
        db.session.commit()
        info["thread_id"] = thread.id
        db.engine.dispose()
    lines = members.read_text().splitlines()
    phases = [
        "sign-solo",
        "reply-solo",
        "sign-both",
        "reply-both",
        "sign-bare-both",
        "reply-bare-both",
        "sign-alone",
        "sign-bare-alone",
        "reply-alone",
        "reply-bare-alone",
    ]
    share = len(lines) // len(phases)
    files = {}
    for i, phase in enumerate(phases):
        chunk = lines[i * share : (i + 1) * share]
        path = tmp / f"{phase}.tsv"
        if phase.startswith("reply"):
            chunk = [
                line.split("\t")[0]
                + "\t"
                + line.split("\t")[1].split("&")[0]
                + f"&body=Mixed+load+reply+{phase}+{n}+keeps+the+thread+busy"
                for n, line in enumerate(chunk)
            ]
        path.write_text("\n".join(chunk) + "\n")
        files[phase] = path
    info["files"] = files
    return info


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="mixed-load-"))
    sign_lua, reply_lua = tmp / "sign.lua", tmp / "reply.lua"
    sign_lua.write_text(LUA)
    reply_lua.write_text(REPLY_LUA)
    info = prepare_run(args, tmp)
    env = {**app_env(args, log=True), "PYTHONPATH": str(ROOT)}
    app_port, bare_port = free_port(), free_port()
    app = subprocess.Popen(gunicorn_command(args, app_port, "wsgi:app"), cwd=ROOT, env=env)
    bare = subprocess.Popen(
        gunicorn_command(args, bare_port, "bench.bare_app:app"), cwd=ROOT, env=env
    )
    base, bare_base = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
    page = f"{base}/petitions/{info['slug']}"
    sign_url = f"{page}/sign"
    reply_url = f"{base}/forum/t/{info['thread_id']}/reply"
    files = info["files"]

    def writer(kind: str, phase: str) -> Load:
        url, script = (sign_url, sign_lua) if kind == "sign" else (reply_url, reply_lua)
        options = ["-s", str(script)]
        command = wrk(args, url, args.writers, *options)
        return Load([*command, "--", str(files[phase]), str(args.wrk_threads)])

    def reader(url: str) -> Load:
        return Load(wrk(args, url, args.connections))

    report: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items() if k != "profile"}}
    try:
        wait_for(f"{base}/healthz", app)
        wait_for(f"{bare_base}/hello", bare)
        for _ in range(20):
            urllib.request.urlopen(page, timeout=10).read()  # noqa: S310
        solo = {
            "sign": _json(writer("sign", "sign-solo").output())["requests"] / args.duration,
            "reply": _json(writer("reply", "reply-solo").output())["requests"] / args.duration,
            "page": _rps(reader(page).output()),
            "bare": _rps(reader(f"{bare_base}/query").output()),
        }
        report["alone"] = {k: round(v, 1) for k, v in solo.items()}
        print("alone (req/s):", report["alone"], flush=True)
        checker = Checker(args, page, info["petition_id"])
        checker.start()
        for label, kinds in (
            ("both", ("sign", "reply")),
            ("sign only", ("sign",)),
            ("reply only", ("reply",)),
        ):
            suffix = "both" if len(kinds) == 2 else "alone"
            loads = {kind: writer(kind, f"{kind}-{suffix}") for kind in kinds}
            page_rps = _rps(reader(page).output())
            rates = {k: _json(v.output())["requests"] / args.duration for k, v in loads.items()}
            loads = {kind: writer(kind, f"{kind}-bare-{suffix}") for kind in kinds}
            bare_rps = _rps(reader(f"{bare_base}/query").output())
            # The same writers while the bare app is read: what the machine leaves them when
            # readers take their share of its cores (the app's writers can't do better).
            beside_bare = {
                k: _json(v.output())["requests"] / args.duration for k, v in loads.items()
            }
            figures = {
                "page_rps": round(page_rps, 1),
                "bare_rps_same_writers": round(bare_rps, 1),
                "page_share_of_bare": round(page_rps / bare_rps, 3),
                **{f"{k}_rps": round(v, 1) for k, v in rates.items()},
                **{f"{k}_share_of_solo": round(v / solo[k], 3) for k, v in rates.items()},
                **{
                    f"{k}_share_of_solo_beside_bare": round(v / solo[k], 3)
                    for k, v in beside_bare.items()
                },
            }
            report[label] = figures
            print(f"{label}:", figures, flush=True)
        report["count_check"] = checker.stop()
        print("count check:", report["count_check"], flush=True)
    finally:
        for server in (app, bare):
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
