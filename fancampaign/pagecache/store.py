"""Where stored pages and fragments are kept, and how a key and its entry are read together.

Three set-ups, one interface (`lookup`, `keep`):
- versions in the mapped file, no Redis (the quick start, a small site on one machine): the
  entries live in each worker's own copies (`_COPIES`, least recently used out first, at most
  PAGE_CACHE_LOCAL_BYTES);
- versions in the mapped file and Redis (one machine): this worker's copy first, else Redis's,
  copied here for as long as Redis keeps it;
- versions in Redis (several machines): usually one round trip, a single MGET of the version
  keys and of the entry under the versions this process saw last; only when a write moved a
  version since does a second GET fetch the entry under the new ones.
Nothing here may break a page: when Redis fails, `lookup` says there is no cache.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from flask import current_app

from fancampaign.pagecache import outage, versions
from fancampaign.pagecache.binding import enabled, prefix, redis_client


@dataclass(frozen=True)
class Found:
    key: str  # the entry's key at the current versions of the groups it depends on
    stored: bytes | None  # the entry, or None when there is none yet
    lagging: tuple[int | str, ...]  # the current versions of the groups it may lag behind


def lookup(base: str, groups: tuple[str, ...], lagging: tuple[str, ...] = ()) -> Found | None:
    """The entry under `base` at the groups' current versions; None when the cache is off
    (or Redis, holding the versions, does not answer)."""
    if not enabled():
        return None
    local = versions.local_versions()
    if local is not None:
        numbers = local.read(groups + lagging)
        key = f"{base}:{local.identity}:" + ".".join(map(str, numbers[: len(groups)]))
        return Found(key, _recall(key), tuple(numbers[len(groups) :]))
    client = redis_client()
    if client is None:
        return None
    return _lookup_redis(client, base, groups + lagging, len(groups))


# The versions each set of version keys last had, as this process read them: the guess that
# lets one MGET read the versions and the page stored under them together.
_SEEN: dict[tuple[str, ...], list[bytes | None]] = {}
_KEYS: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
_KEYS_MAX = 4096


def _lookup_redis(client: Any, base: str, groups: tuple[str, ...], own: int) -> Found | None:
    keys_prefix = prefix()
    keys = _KEYS.get((keys_prefix, groups))
    if keys is None:
        keys = tuple(keys_prefix + versions.VERSION_PREFIX + name for name in groups)
        if len(_KEYS) >= _KEYS_MAX:  # only tests make many (a prefix each)
            _KEYS.clear()
            _SEEN.clear()
        _KEYS[(keys_prefix, groups)] = keys
    seen = _SEEN.get(keys)
    try:
        versions.catch_up(client)
        if seen is None:
            found = client.mget(keys)
        else:
            *found, stored = client.mget(*keys, _versioned(base, seen[:own]))
            if found[:own] == seen[:own]:
                _SEEN[keys] = found
                return Found(_versioned(base, seen[:own]), stored, _numbers(found[own:]))
        key = _versioned(base, found[:own])
        stored = client.get(key)
    except Exception:  # the cache must never break a page
        outage.report("Redis unavailable")
        return None
    _SEEN[keys] = found
    return Found(key, stored, _numbers(found[own:]))


def _numbers(found: list[bytes | None]) -> tuple[str, ...]:
    return tuple(v.decode() if v is not None else "0" for v in found)


def _versioned(base: str, found: list[bytes | None]) -> str:
    return base + ":" + ".".join(_numbers(found))


# This process's own copies of entries under local versions: {key: (expires, stored)}, the
# most recently used last, at most PAGE_CACHE_LOCAL_BYTES in all.
_COPIES: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
_COPIES_SIZE = [0]
_COPIES_LOCK = threading.Lock()


def _recall(key: str) -> bytes | None:
    """What is stored under `key` (a key at local versions): this process's copy, else
    Redis's when there is one (copied here for as long as Redis keeps it)."""
    now = time.monotonic()
    copy = _COPIES.get(key)
    if copy is not None:
        if copy[0] > now:
            with contextlib.suppress(KeyError):  # another thread may have just dropped it
                _COPIES.move_to_end(key)
            return copy[1]
        with _COPIES_LOCK:
            _forget(key)
    client = redis_client()
    if client is None:
        return None
    try:
        with client.pipeline(transaction=False) as pipe:
            stored, ttl = pipe.get(key).pttl(key).execute()
    except Exception:  # the cache must never break a page
        outage.report("Redis unavailable")
        return None
    if stored is not None and ttl > 0:
        _copy(key, stored, now + ttl / 1000)
    return stored  # type: ignore[no-any-return]


def _copy(key: str, stored: bytes, expires: float) -> None:
    limit = int(current_app.config.get("PAGE_CACHE_LOCAL_BYTES", 32 * 1024 * 1024))
    if len(stored) > limit:
        return
    with _COPIES_LOCK:
        _forget(key)
        _COPIES[key] = (expires, stored)
        _COPIES_SIZE[0] += len(stored)
        while _COPIES_SIZE[0] > limit:
            _forget(next(iter(_COPIES)))


def _forget(key: str) -> None:
    copy = _COPIES.pop(key, None)
    if copy is not None:
        _COPIES_SIZE[0] -= len(copy[1])


def keep(key: str, stored: bytes | str, timeout: float) -> None:
    """Keep an entry under its key for `timeout` seconds, for every process that can see it."""
    data = stored.encode() if isinstance(stored, str) else stored
    timeout = max(1.0, timeout)
    local = versions.local_versions() is not None
    client = redis_client()
    if client is not None:
        try:
            client.set(key, data, px=int(timeout * 1000))
        except Exception:
            outage.report("could not store %s", key)
            if not local:
                return
    if local:
        _copy(key, data, time.monotonic() + timeout)
