"""The site's absolute addresses: every absolute URL we hand out is built here, on BASE_URL."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, request, url_for


def base_url() -> str:
    """The site's absolute root, without a trailing slash, for every absolute URL we hand out
    (links in mail, feeds, share links and embed code, the API): always the BASE_URL setting,
    never the request's Host header, which whoever sends the request writes."""
    return str(current_app.config["BASE_URL"]).rstrip("/")


def absolute_url(endpoint: str, **values: Any) -> str:
    """`url_for(endpoint, **values)` as an absolute URL on BASE_URL (which already holds the
    path the site is mounted under, if any)."""
    return absolute_path(url_for(endpoint, **values))


def absolute_path(path: str) -> str:
    """A path on this site (as url_for or request.path give it) as an absolute URL on
    BASE_URL; an absolute URL is returned as it is."""
    if "://" in path:
        return path
    root = request.script_root if has_request_context() else ""
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    return base_url() + path
