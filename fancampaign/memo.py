"""Computed values kept for a while: in Redis when there is one (every worker shares them),
else in this process."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context

log = logging.getLogger(__name__)

_LOCAL: dict[str, Any] = {}
_LOCAL_MAX = 512
VALUE_PREFIX = "fc:value:"


def memoise(key: str, compute: Callable[[], Any], timeout: int = 300) -> Any:
    """`compute()`'s JSON-able result, kept under `key`.

    The key must name everything the value depends on (say a petition's id *and* its
    signature count), so that a stale value is never found, only an absent one. Off under
    test unless PAGE_CACHE_ENABLED says otherwise (databases are emptied behind its back).
    """
    if has_app_context() and not current_app.config.get(
        "PAGE_CACHE_ENABLED", not current_app.testing
    ):
        return compute()
    client = _redis() if has_app_context() else None
    if client is not None:
        full = str(current_app.config.get("PAGE_CACHE_PREFIX", "")) + VALUE_PREFIX + key
        try:
            stored = client.get(full)
        except Exception:
            stored = None
        if stored is not None:
            return json.loads(stored)
        value = compute()
        try:
            client.set(full, json.dumps(value), ex=timeout)
        except Exception:
            log.warning("memo: could not store %s", key, exc_info=True)
        return value
    if key in _LOCAL:
        return _LOCAL[key]
    value = compute()
    if len(_LOCAL) >= _LOCAL_MAX:
        _LOCAL.clear()
    _LOCAL[key] = json.loads(json.dumps(value))
    return _LOCAL[key]


def _redis() -> Any:
    from fancampaign.redis_client import redis_client

    return redis_client()
