"""The app's Redis client, shared by the page cache and the memoised values."""

from __future__ import annotations

from typing import Any

from flask import current_app


def redis_client() -> Any:
    """The app's Redis client (timeouts of half a second: a cache must not hang a page), or
    None without REDIS_URL."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("REDIS_URL"):
        return None
    client = app.extensions.get("fancampaign_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5
        )
        app.extensions["fancampaign_redis"] = client
    return client
