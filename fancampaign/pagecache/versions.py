"""Version numbers per group of tables, and the writes that move them.

A group is a name the app gives a set of tables (`Binding.groups`: "forum", "signatures",
...). A committed transaction that wrote one of a group's tables bumps the group's number; a
page's key holds the numbers of the groups it declared, so the bump makes every page built on
the old rows unreachable at once, and no other page.

The numbers live in Redis (`fc:ver:<group>`) or, when every worker runs on one machine, in a
small file mapped into each worker's memory (`LocalVersions`), which a page read checks
without a round trip. PAGE_CACHE_VERSIONS says which: "local" by default without REDIS_URL or
on SQLite, "redis" otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import struct
import threading
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context

from fancampaign import writes
from fancampaign.pagecache import outage
from fancampaign.pagecache.binding import binding, group_of, prefix, redis_client

VERSION_PREFIX = "fc:ver:"

_COUNTER = struct.Struct("<Q")
_UNPACK, _PACK = _COUNTER.unpack_from, _COUNTER.pack_into
_SLOTS = 64  # version counters in the file; the groups must fit
_HEAD = 16  # bytes of the file's random identity, before the counters


class LocalVersions:
    """The groups' version numbers in a small file, mapped into the memory of every process
    that serves the site from this machine.

    A bump increments them under a lock (`lockf`: per process, so forked workers exclude each
    other; and a thread lock). The file starts with 16 random bytes made with it: they are
    part of every page key, so a file made afresh (the database reset beside it) never meets
    the pages of the old one.
    """

    def __init__(self, path: str | None, groups: Iterable[str]) -> None:
        self.path = path
        self._groups = sorted(groups)
        self._thread_lock = threading.Lock()
        self._slot = {name: _HEAD + 8 * i for i, name in enumerate(self._groups)}
        if len(self._slot) > _SLOTS:
            raise ValueError(f"at most {_SLOTS} groups of tables fit in the versions file")
        self._open()

    def _open(self) -> None:
        if self.path is None:  # an in-memory database: one process, anonymous memory
            self._file: tuple[int, int] | None = None
            self._map = mmap.mmap(-1, _HEAD + 8 * _SLOTS)
            self._map[:_HEAD] = os.urandom(_HEAD)
            self._identify()
            return
        with self._locked() as fd:
            self._map_file(fd)

    def _map_file(self, fd: int) -> None:
        """Map the file open (and locked) as `fd`, making it if it is new."""
        size = _HEAD + 8 * _SLOTS
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, 0)
            os.write(fd, os.urandom(_HEAD) + bytes(size - _HEAD))
        self._map = mmap.mmap(fd, size)  # holds the file itself: the fd can close
        found = os.fstat(fd)
        self._file = (found.st_dev, found.st_ino)
        self._identify()

    def _identify(self) -> None:
        # The file's random bytes, and the groups in slot order (a new group moves the slots).
        layout = ",".join(self._groups).encode()
        self.identity = hashlib.sha256(self._map[:_HEAD] + layout).hexdigest()[:16]

    def _current(self) -> mmap.mmap:
        """The map of the file now at the path: one made afresh while this process ran (the
        old one deleted) is mapped again, with its new identity."""
        if self.path is not None:
            try:
                found = os.stat(self.path)
                same = (found.st_dev, found.st_ino) == self._file
            except FileNotFoundError:
                same = False
            if not same:
                self._open()
        return self._map

    @contextlib.contextmanager
    def _locked(self) -> Any:
        """The file open and locked against every other process and thread (opened for the
        occasion: a process holds no descriptor between bumps)."""
        with self._thread_lock:
            if self.path is None:
                yield None
                return
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX)  # released with the close
                yield fd
            finally:
                os.close(fd)

    def read(self, names: Iterable[str]) -> list[int]:
        unpack, data, slot = _UNPACK, self._current(), self._slot
        return [unpack(data, slot[name])[0] for name in names]

    def bump(self, names: Iterable[str]) -> None:
        with self._locked() as fd:
            if fd is not None:
                found = os.fstat(fd)
                if (found.st_dev, found.st_ino) != self._file:
                    self._map_file(fd)  # the file was made afresh: count in the new one
            data = self._map
            for name in names:
                offset = self._slot[name]
                _PACK(data, offset, _UNPACK(data, offset)[0] + 1)


def where_kept(app: Flask) -> str:
    """ "local" or "redis": where this app keeps its versions (module doc)."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    sqlite = url.get_backend_name() == "sqlite"
    default = "local" if sqlite or not app.config.get("REDIS_URL") else "redis"
    where = app.config.get("PAGE_CACHE_VERSIONS") or default
    if where not in ("local", "redis"):
        raise ValueError(f'PAGE_CACHE_VERSIONS must be "local" or "redis", not {where!r}')
    return str(where)


def local_versions() -> LocalVersions | None:
    """This app's LocalVersions when the versions are kept on this machine, else None (they
    are in Redis). The file is PAGE_CACHE_VERSIONS_FILE, by default beside a SQLite database
    (in memory for an in-memory one) or `page-versions` in the instance folder."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("fancampaign_pagecache_versions", False)
    if found is not False:
        return found  # type: ignore[no-any-return]
    found = None
    if where_kept(app) == "local":
        url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        path = app.config.get("PAGE_CACHE_VERSIONS_FILE")
        if not path and url.get_backend_name() == "sqlite":
            database = url.database
            in_memory = not database or database == ":memory:" or database.startswith("file:")
            path = None if in_memory else database + "-page-versions"
        elif not path:
            os.makedirs(app.instance_path, exist_ok=True)
            path = os.path.join(app.instance_path, "page-versions")
        found = LocalVersions(path, binding().groups)
    app.extensions["fancampaign_pagecache_versions"] = found
    return found


def read(groups: tuple[str, ...]) -> list[int] | None:
    """The groups' versions from this machine's file, or None when they are in Redis."""
    local = local_versions()
    return None if local is None else local.read(groups)


# Groups whose bump failed because Redis did not answer: bumped before this process next
# reads versions from Redis, so that pages stored before the outage are not served after it.
_MISSED: dict[str, set[str]] = {}  # {the app's key prefix: groups}


def bump(groups: Iterable[str]) -> None:
    """Make every cached page built on these groups unreachable (after a commit)."""
    if not has_app_context() or not binding(optional=True):
        return
    names = sorted(set(groups) & set(binding().groups))
    if not names:
        return
    try:
        local = local_versions()
        if local is not None:
            local.bump(names)
            return
        client = redis_client()
        if client is None:
            return
        missed = _MISSED.pop(prefix(), set())
        try:
            _incr(client, sorted(set(names) | missed))
        except Exception:
            _MISSED.setdefault(prefix(), set()).update(missed)
            raise
    except Exception:
        # Until Redis answers again no page is read from it; then these groups move first.
        _MISSED.setdefault(prefix(), set()).update(names)
        outage.report("could not invalidate %s (done when Redis answers again)", names)


def catch_up(client: Any) -> None:
    """The bumps that failed while Redis was down, now that it answers (raises if not)."""
    if not _MISSED:
        return
    missed = _MISSED.pop(prefix(), None)
    if missed:
        try:
            _incr(client, sorted(missed))
        except Exception:
            _MISSED.setdefault(prefix(), set()).update(missed)
            raise


def _incr(client: Any, names: list[str]) -> None:
    keys = prefix() + VERSION_PREFIX
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.incr(keys + name)
        pipe.execute()


def bump_all() -> None:
    """Every page and fragment goes (a bulk load wrote behind the listeners' backs)."""
    bump(binding().groups)


# What a transaction wrote ---------------------------------------------------------------


def _committed(_sender: Any, tables: frozenset[str]) -> None:
    """`writes.committed`: a transaction wrote these tables; their groups' pages go."""
    if not has_app_context():
        return
    found = group_of()
    groups = {found[name] for name in tables if name in found}
    if groups:
        bump(groups)


writes.committed.connect(_committed)
