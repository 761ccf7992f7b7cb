"""A response as the cache keeps it, and how it is served again.

A stored rendering holds no marker: the places of the viewer's CSRF token and of the slots
are recorded when the rendering is frozen. The markers a rendering writes carry this process's
random secret (`SECRET`): user-written text, which cannot know it, is never taken for one.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any, NamedTuple

from flask import Response, current_app, g, session

from fancampaign.pagecache import clock
from fancampaign.pagecache.binding import Fill

SECRET = secrets.token_hex(16)
# What a rendering to be stored writes where the viewer's CSRF token goes.
CSRF_MARK = f"fc-csrf-{SECRET}"
_CSRF_MARK_BYTES = CSRF_MARK.encode()
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


class Opened(NamedTuple):
    """A stored entry made ready to serve: parsed once per process, then reused."""

    data: dict[str, Any]  # what `freeze` put in its first line
    body: bytes  # the body's pieces, still joined by NUL bytes
    texts: tuple[bytes, ...]  # the pieces: what goes between the items
    items: tuple[tuple[str, str, tuple[bytes, ...]] | None, ...]  # each slot, or None: a token
    slots: dict[str, dict[str, str]]  # {slot name: {arg: its stored html}} (CSRF_MARK for tokens)
    memo: dict[str, Any]  # what is worked out from the entry once (members.py: its questions)


_OPENED: OrderedDict[bytes, Opened] = OrderedDict()
_OPENED_SIZE = [0]
_OPENED_MAX = 8 * 1024 * 1024  # bytes of entries kept opened, the most recently used
_OPENED_LOCK = threading.Lock()


def open_(frozen: bytes) -> Opened:
    """The entry ready to serve. The pages served most often stay opened in this process
    (up to `_OPENED_MAX` bytes), so a page served again is not parsed again."""
    opened = _OPENED.get(frozen)
    if opened is not None:
        with contextlib.suppress(KeyError):  # another thread may have just dropped it
            _OPENED.move_to_end(frozen)
        return opened
    head, _, body = frozen.partition(b"\n")
    data = json.loads(head)
    items = tuple(
        None if item is None else (item[0], item[1], tuple(p.encode() for p in item[2]))
        for item in data["i"]
    )
    slots: dict[str, dict[str, str]] = {}
    for item in data["i"]:
        if item is not None:
            slots.setdefault(item[0], {})[item[1]] = CSRF_MARK.join(item[2])
    opened = Opened(data, body, tuple(body.split(b"\x00")), items, slots, {})
    if len(frozen) <= _OPENED_MAX:
        with _OPENED_LOCK:
            if frozen not in _OPENED:
                _OPENED[frozen] = opened
                _OPENED_SIZE[0] += 2 * len(frozen)
            while _OPENED_SIZE[0] > _OPENED_MAX:
                dropped, _ = _OPENED.popitem(last=False)
                _OPENED_SIZE[0] -= 2 * len(dropped)
    return opened


def thaw(opened: Opened, fills: dict[str, Fill] | None = None) -> bytes:
    """The body for this request: the slots of each name in `fills` filled by it (one call
    per name for all its slots), the others as stored, and this viewer's CSRF token where the
    rendering had one. A fill's html may hold CSRF_MARK where its token goes."""
    items = opened.items
    if not items:
        return opened.body
    token: bytes | None = None

    def csrf() -> bytes:
        nonlocal token
        if token is None:
            token = csrf_token().encode()
        return token

    filled: dict[str, dict[str, bytes]] = {}
    if fills:
        for name, args in opened.slots.items():
            fill = fills.get(name)
            if fill is not None:
                own = {}
                for arg, html in fill(args).items():
                    piece = html.encode()
                    own[arg] = (
                        piece.replace(_CSRF_MARK_BYTES, csrf())
                        if _CSRF_MARK_BYTES in piece
                        else piece
                    )
                filled[name] = own
    texts = opened.texts
    out = [texts[0]]
    append = out.append
    for item, after in zip(items, texts[1:], strict=True):
        if item is None:
            append(csrf())
        else:
            own = filled.get(item[0])
            piece = own.get(item[1]) if own is not None else None
            if piece is None:
                pieces = item[2]
                piece = pieces[0] if len(pieces) == 1 else csrf().join(pieces)
            append(piece)
        append(after)
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
