"""Load the demo content in seeds/ through the services. Idempotent: each part loads once."""

from __future__ import annotations

import importlib
import json
import secrets
from pathlib import Path
from typing import Any

from flask import current_app

from fancampaign import AREAS, ROOT
from fancampaign.accounts.models import Role, User
from fancampaign.extensions import db
from fancampaign.main.models import SeedMark

SEEDS_DIR = ROOT / "seeds"


def read_seed(name: str) -> Any:
    """A data file from seeds/ (JSON)."""
    return json.loads((SEEDS_DIR / name).read_text(encoding="utf-8"))


def seed_text(name: str) -> str:
    """A text file (Markdown) from seeds/."""
    return (SEEDS_DIR / name).read_text(encoding="utf-8")


def is_loaded(name: str) -> bool:
    return db.session.get(SeedMark, name) is not None


def mark_loaded(name: str) -> None:
    db.session.add(SeedMark(name=name))
    db.session.flush()


def _passwords_file() -> Path:
    return Path(current_app.instance_path) / "demo-accounts.txt"


def new_password(username: str, email: str) -> str:
    """A random password that the registration rules accept (a random one can happen to
    contain a short username, as "3ZBidOJH…" holds "ido")."""
    from fancampaign.accounts.services import password_problem

    while True:
        password = secrets.token_urlsafe(12)
        if password_problem(password, username=username, email=email) is None:
            return password


def _load_accounts() -> dict[str, User]:
    from fancampaign.accounts.services import get_by_username, register_user

    known: dict[str, str] = {}
    path = _passwords_file()
    if path.exists():
        for line in path.read_text().splitlines():
            username, _, password = line.partition(" ")
            known[username] = password
    users: dict[str, User] = {}
    for entry in read_seed("accounts.json"):
        user = get_by_username(entry["username"])
        if user is None:
            password = new_password(entry["username"], entry["email"])
            user = register_user(
                entry["username"],
                entry["email"],
                password,
                display_name=entry.get("display_name", ""),
                role=Role(entry.get("role", "member")),
                confirmed=True,
                allow_reserved=True,
            )
            user.bio = entry.get("bio", "")
            known[user.username] = password
        users[user.username] = user
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name} {pw}\n" for name, pw in known.items()))
    path.chmod(0o600)
    return users


def load_demo() -> list[tuple[str, str, str]]:
    """Load every part of the demo not loaded yet; returns (username, role, password) rows."""
    users = _load_accounts()
    db.session.commit()
    for area in AREAS:
        if not (ROOT / "fancampaign" / area / "seeds.py").exists():
            continue
        module = importlib.import_module(f"fancampaign.{area}.seeds")
        if is_loaded(area):
            continue
        module.load(users)
        mark_loaded(area)
        db.session.commit()
    passwords = dict(
        line.split(" ", 1) for line in _passwords_file().read_text().splitlines() if " " in line
    )
    return [(u.username, str(u.role), passwords.get(u.username, "?")) for u in users.values()]
