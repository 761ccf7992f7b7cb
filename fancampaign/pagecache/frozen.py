"""A response as the cache keeps it, and how it is served again.

A stored rendering holds no marker: the places of the viewer's CSRF token and of the slots
are recorded when the rendering is frozen. The markers a rendering writes carry this process's
random secret (`SECRET`): user-written text, which cannot know it, is never taken for one.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from flask import Response, current_app, g, session

from fancampaign.pagecache import clock
from fancampaign.pagecache.binding import Fill

SECRET = secrets.token_hex(16)
# What a rendering to be stored writes where the viewer's CSRF token goes.
CSRF_MARK = f"fc-csrf-{SECRET}"
SLOT_RE = re.compile(rf"<!--fc:{SECRET}:(\w+):([\w.-]*)-->(.*?)<!--/fc:{SECRET}-->", re.S)


def marked_slot(name: str, arg: str, html: str) -> str:
    """`html` between the markers of the slot `name` (which `SLOT_RE` finds)."""
    return f"<!--fc:{SECRET}:{name}:{arg}-->{html}<!--/fc:{SECRET}-->"


def freeze(response: Response, head: dict[str, Any], drop: tuple[str, ...] = ()) -> bytes | None:
    """The response as the store keeps it, or None if it can't be kept.

    A line of JSON (`head`: what the page says about itself; plus the headers but the
    per-response ones, whether it held a CSRF token, and the slots, each with its html cut
    where a token goes), then the body cut at each slot and each CSRF token, the pieces joined
    by NUL bytes (which HTML never holds). Serving it is a split and a join of bytes: no
    search or re-encoding of the whole page per request.
    """
    if response.direct_passthrough or response.is_streamed:
        return None
    body = response.get_data(as_text=True)
    if "\x00" in body:
        return None
    has_token = CSRF_MARK in body
    texts, items = [""], []

    def cut(piece: str) -> list[str]:
        return piece.split(CSRF_MARK) if has_token else [piece]

    def text(piece: str) -> None:
        first, *rest = cut(piece)
        texts[-1] += first
        for after in rest:
            items.append(None)  # the viewer's CSRF token goes here
            texts.append(after)

    end = 0
    for found in SLOT_RE.finditer(body):
        text(body[end : found.start()])
        items.append([found[1], found[2], cut(found[3])])
        texts.append("")
        end = found.end()
    text(body[end:])
    skip = ("set-cookie", "content-length", "vary", "etag", *drop)
    headers = [[k, v] for k, v in response.headers.items() if k.lower() not in skip]
    head = {**head, "h": headers, "t": has_token, "i": items, "at": clock.now()}
    return json.dumps(head).encode() + b"\n" + "\x00".join(texts).encode()


def open_(frozen: bytes) -> tuple[dict[str, Any], bytes]:
    """(what `freeze` put in its first line, the body's pieces still joined)."""
    head, _, body = frozen.partition(b"\n")
    return json.loads(head), body


def thaw(data: dict[str, Any], body: bytes, fills: dict[str, Fill] | None = None) -> bytes:
    """The body for this request: the slots of each name in `fills` filled by it (one call
    per name for all its slots), the others as stored, and this viewer's CSRF token where the
    rendering had one. A fill's html may hold CSRF_MARK where its token goes."""
    items = data["i"]
    if not items:
        return body
    token: str | None = None

    def csrf() -> str:
        nonlocal token
        if token is None:
            token = csrf_token()
        return token

    filled: dict[str, dict[str, str]] = {}
    if fills:
        wanted: dict[str, dict[str, str]] = {}
        for item in items:
            if item is not None and item[0] in fills:
                wanted.setdefault(item[0], {})[item[1]] = CSRF_MARK.join(item[2])
        filled = {name: fills[name](args) for name, args in wanted.items()}
    texts = body.split(b"\x00")
    out = [texts[0]]
    for item, after in zip(items, texts[1:], strict=True):
        if item is None:
            piece = csrf()
        else:
            name, arg, pieces = item
            own = filled.get(name)
            if own is not None and arg in own:
                piece = own[arg]
                if CSRF_MARK in piece:
                    piece = piece.replace(CSRF_MARK, csrf())
            else:
                piece = pieces[0] if len(pieces) == 1 else csrf().join(pieces)
        out += (piece.encode(), after)
    return b"".join(out)


_SIGNED: dict[tuple[str, str], tuple[float, str]] = {}
_SIGNED_FOR = 60.0  # seconds; a token is good for an hour (WTF_CSRF_TIME_LIMIT)
_SIGNED_MAX = 4096


def csrf_token() -> str:
    """This visitor's signed CSRF token, as `generate_csrf()` makes it, signed once a minute
    per session and process rather than on every request (signing is a twentieth of a page
    served from the cache). A token signed 59 s ago is as good as a new one, 59 s shorter."""
    from flask_wtf.csrf import generate_csrf

    raw = session.get("csrf_token")
    if raw is None or "csrf_token" in g:
        return generate_csrf()  # type: ignore[no-any-return]
    key = (str(current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key), raw)
    now = time.monotonic()
    signed = _SIGNED.get(key)
    if signed is not None and now - signed[0] < _SIGNED_FOR:
        g.csrf_token = signed[1]  # where flask_wtf looks first
        return signed[1]
    token = generate_csrf()
    if len(_SIGNED) >= _SIGNED_MAX:
        _SIGNED.clear()
    _SIGNED[key] = (now, token)
    return token  # type: ignore[no-any-return]
