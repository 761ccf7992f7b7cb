"""The OpenAPI 3.1 description of API v1, kept next to the code it describes.

tests/api validate this document (openapi-spec-validator), check real responses against its
schemas (jsonschema), and let schemathesis loose on every operation.
"""

from __future__ import annotations

import copy
from typing import Any

# The limits the views enforce (api/views.py imports them from here).
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_PAGE = 10_000
MAX_ID = 2**31 - 1

DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
URL = {"type": "string", "format": "uri"}
NEXT = {
    "type": ["string", "null"],
    "format": "uri",
    "description": "The next page, or null on the last one.",
}
SLUG = {"type": "string", "minLength": 1, "maxLength": 200}


def _obj(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


PETITION_SUMMARY = {
    "slug": SLUG,
    "title": {"type": "string"},
    "summary": {"type": "string"},
    "status": {
        "type": "string",
        "enum": ["open", "closed", "won"],
        "description": "As people see it: an open petition past its deadline is closed.",
    },
    "signature_count": {"type": "integer", "minimum": 0},
    "goal": {"type": "integer", "minimum": 1},
    "deadline": NULLABLE_DATE_TIME,
    "url": URL,
    "updated_at": DATE_TIME,
}

NEWS_SUMMARY = {
    "slug": SLUG,
    "title": {"type": "string"},
    "standfirst": {"type": "string"},
    "url": URL,
    "published_at": DATE_TIME,
    "updated_at": DATE_TIME,
    "reading_minutes": {"type": "integer", "minimum": 0},
    "is_developing": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string"}},
}

THREAD_SUMMARY = {
    "id": {"type": "integer", "minimum": 1},
    "title": {"type": "string"},
    "author": {"type": ["string", "null"], "description": "Username; null once erased."},
    "reply_count": {"type": "integer", "minimum": 0},
    "is_pinned": {"type": "boolean"},
    "is_locked": {"type": "boolean"},
    "created_at": DATE_TIME,
    "last_activity_at": DATE_TIME,
    "url": URL,
    "api_url": URL,
}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "error": _obj(
                {
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "title": {"type": "string"},
                    "detail": {"type": "string"},
                }
            )
        },
        "Every error has this shape.",
    ),
    "PetitionSummary": _obj(PETITION_SUMMARY),
    "Petition": _obj(
        {
            **PETITION_SUMMARY,
            "target": {"type": "string", "description": 'Whom it asks ("To: …").'},
            "body_html": {"type": "string", "description": "Sanitised HTML."},
            "opened_at": NULLABLE_DATE_TIME,
            "closed_at": NULLABLE_DATE_TIME,
        }
    ),
    "PetitionList": _obj(
        {"items": {"type": "array", "items": _ref("PetitionSummary")}, "next": NEXT}
    ),
    "NewsSummary": _obj(NEWS_SUMMARY),
    "NewsPost": _obj(
        {
            **NEWS_SUMMARY,
            "body_html": {"type": "string", "description": "Sanitised HTML."},
            "updates": {
                "type": "array",
                "description": "Dated updates of a developing story, oldest first.",
                "items": _obj({"body_html": {"type": "string"}, "created_at": DATE_TIME}),
            },
        }
    ),
    "TimelineEntry": _obj(
        {
            "kind": {
                "type": "string",
                "enum": [
                    "opened",
                    "milestone",
                    "news",
                    "update",
                    "delivered",
                    "acknowledged",
                    "response",
                    "closed",
                    "reopened",
                    "won",
                ],
            },
            "label": {"type": "string"},
            "title": {"type": "string"},
            "body": {"type": "string", "description": "Plain text."},
            "url": {"type": ["string", "null"], "format": "uri"},
            "at": DATE_TIME,
        }
    ),
    "Timeline": _obj(
        {
            "petition": SLUG,
            "items": {
                "type": "array",
                "items": _ref("TimelineEntry"),
                "description": "The campaign, oldest first.",
            },
        }
    ),
    "NewsList": _obj({"items": {"type": "array", "items": _ref("NewsSummary")}, "next": NEXT}),
    "Category": _obj(
        {
            "slug": SLUG,
            "name": {"type": "string"},
            "description": {"type": "string"},
            "thread_count": {"type": "integer", "minimum": 0},
            "post_count": {"type": "integer", "minimum": 0},
            "url": URL,
            "threads_url": URL,
        }
    ),
    "CategoryList": _obj({"items": {"type": "array", "items": _ref("Category")}}),
    "ThreadSummary": _obj(THREAD_SUMMARY),
    "ThreadList": _obj(
        {
            "category": _ref("Category"),
            "items": {"type": "array", "items": _ref("ThreadSummary")},
            "next": NEXT,
        }
    ),
    "Post": _obj(
        {
            "id": {"type": "integer", "minimum": 1},
            "author": {"type": ["string", "null"]},
            "body_html": {"type": "string", "description": "Sanitised HTML."},
            "created_at": DATE_TIME,
            "edited_at": NULLABLE_DATE_TIME,
            "reply_to_id": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": (
                    "The post of the same thread this one answers (its Reply button), or null "
                    "when it answers the thread."
                ),
            },
            "url": URL,
        }
    ),
    "ThreadDetail": _obj(
        {
            "thread": _obj({**THREAD_SUMMARY, "category": SLUG}),
            "posts": _obj(
                {
                    "items": {"type": "array", "items": _ref("Post")},
                    "page": {"type": "integer", "minimum": 1},
                    "per_page": {"type": "integer", "minimum": 1},
                    "total": {"type": "integer", "minimum": 0},
                    "next": NEXT,
                }
            ),
        }
    ),
}

HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256, hex."}
SCHEMAS["Checkpoint"] = _obj(
    {
        "number": {"type": "integer", "minimum": 1},
        "tree_size": {"type": "integer", "minimum": 0},
        "root_hash": {**HASH, "description": "RFC 9162 Merkle tree hash of the log, hex."},
        "standing_count": {
            "type": "integer",
            "description": "Signatures counted minus signatures withdrawn in these entries.",
        },
        "created_at": {"type": "string", "pattern": "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$"},
        "event": {"type": "string", "enum": ["update", "closed", "won", "delivered"]},
        "key_id": {"type": "string", "description": "First 16 hex digits of SHA-256(public key)."},
        "signature": {
            "type": "string",
            "description": (
                "Base64 Ed25519 signature, by the key at /.well-known/fancampaign-log-key, of "
                "the UTF-8 text: 'fancampaign petition log checkpoint v1\\npetition "
                "{petition_id}\\nsize {tree_size}\\nroot {root_hash}\\nstanding "
                "{standing_count}\\ntime {created_at}\\nevent {event}\\n'."
            ),
        },
    },
    "A signed tree head of a petition's append-only signature log.",
)
SCHEMAS["CheckpointList"] = _obj(
    {
        "petition_id": {"type": "integer", "minimum": 1},
        "slug": SLUG,
        "public_key_url": URL,
        "interval_seconds": {"type": "integer", "minimum": 0},
        "items": {"type": "array", "items": _ref("Checkpoint")},
        "next": NEXT,
    }
)
SCHEMAS["LeafList"] = _obj(
    {
        "tree_size": {"type": "integer", "minimum": 0, "description": "The latest checkpoint's."},
        "items": {
            "type": "array",
            "items": _obj(
                {
                    "index": {"type": "integer", "minimum": 0},
                    "kind": {"type": "string", "enum": ["add", "withdraw"]},
                    "leaf_hash": {
                        **HASH,
                        "description": (
                            "SHA-256(0x00 || 'add' 0x00 commitment) for an addition, "
                            "SHA-256(0x00 || 'withdraw' 0x00 || withdraws as 8 bytes big-endian "
                            "|| the withdrawn leaf's hash) for a withdrawal."
                        ),
                    },
                    "commitment": {
                        "type": ["string", "null"],
                        "pattern": "^[0-9a-f]{64}$",
                        "description": "Additions: the salted hash of the signature's ids.",
                    },
                    "withdraws": {
                        "type": ["integer", "null"],
                        "minimum": 0,
                        "description": "Withdrawals: the index of the addition taken back.",
                    },
                }
            ),
        },
        "next": NEXT,
    },
    "The leaves of a petition's log in order, up to the latest checkpoint.",
)
SCHEMAS["ConsistencyProof"] = _obj(
    {
        "from": {"type": "integer", "minimum": 0},
        "to": {"type": "integer", "minimum": 0},
        "proof": {"type": "array", "items": HASH},
    },
    "RFC 9162 2.1.4 consistency proof between the trees of `from` and `to` entries.",
)
SCHEMAS["InclusionProof"] = _obj(
    {
        "leaf_index": {"type": "integer", "minimum": 0},
        "leaf_hash": HASH,
        "kind": {"type": "string", "enum": ["add", "withdraw"]},
        "checkpoint": _ref("Checkpoint"),
        "proof": {"type": "array", "items": HASH},
    },
    "RFC 9162 2.1.3 inclusion proof of a leaf in the latest checkpoint.",
)

_HEADERS = {
    "ETag": {
        "description": "Send it back in If-None-Match to get a 304 when nothing changed.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Access-Control-Allow-Origin": {
        "description": "CORS is open for reading.",
        "required": True,
        "schema": {"type": "string", "const": "*"},
    },
}
_LAST_MODIFIED = {
    "description": "Send it back in If-Modified-Since to get a 304 when nothing changed.",
    "schema": {"type": "string"},
}


def _json(schema: str, description: str, last_modified: bool = False) -> dict[str, Any]:
    headers = dict(_HEADERS)
    if last_modified:
        headers["Last-Modified"] = _LAST_MODIFIED
    return {
        "description": description,
        "headers": headers,
        "content": {"application/json": {"schema": _ref(schema)}},
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


_COMMON_ERRORS = {
    "304": {"description": "Not modified (conditional request)."},
    "429": _error("Too many requests from this address; see Retry-After."),
}
_BAD = {"400": _error("A parameter is not valid.")}
_MISSING = {"404": _error("Not found, or not public.")}
_LOG = {
    **_BAD,
    **_MISSING,
    "503": _error("The petition's log is damaged: rows it needs are missing."),
}

_LIMIT = {
    "name": "limit",
    "in": "query",
    "description": f"Items per page (default {DEFAULT_LIMIT}).",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
}
_CURSOR = {
    "name": "cursor",
    "in": "query",
    "description": "Opaque: copy it from a `next` link, never build it.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 512},
}


def _get(
    operation_id: str,
    summary: str,
    ok: dict[str, Any],
    errors: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
    tag: str = "",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": {"200": ok, **_COMMON_ERRORS, **errors},
    }
    if parameters:
        op["parameters"] = parameters
    return {"get": op}


def _path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


_SLUG_PARAM = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[a-z0-9-]+$"}

PATHS: dict[str, Any] = {
    "/petitions": _get(
        "listPetitions",
        "Public petitions, newest first",
        _json("PetitionList", "A page of petitions.", last_modified=True),
        _BAD,
        [
            {
                "name": "status",
                "in": "query",
                "description": "Only petitions with this status (default: all three).",
                "schema": {"type": "string", "enum": ["open", "closed", "won"]},
            },
            _LIMIT,
            _CURSOR,
        ],
        "petitions",
    ),
    "/petitions/{slug}": _get(
        "getPetition",
        "One public petition with its signature count",
        _json("Petition", "The petition.", last_modified=True),
        _MISSING,
        [_path_param("slug", _SLUG_PARAM, "The petition's slug.")],
        "petitions",
    ),
    "/petitions/{slug}/checkpoints": _get(
        "listPetitionCheckpoints",
        "The signed checkpoints of a petition's signature log, oldest first",
        _json("CheckpointList", "A page of checkpoints."),
        _LOG,
        [
            _path_param("slug", _SLUG_PARAM, "The petition's slug."),
            {
                "name": "after",
                "in": "query",
                "description": "Only checkpoints numbered above this.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
            },
            _LIMIT,
        ],
        "petitions",
    ),
    "/petitions/{slug}/consistency": _get(
        "getPetitionLogConsistency",
        "Proof that the log of `to` entries extends the log of `from` entries",
        _json("ConsistencyProof", "The proof."),
        _LOG,
        [
            _path_param("slug", _SLUG_PARAM, "The petition's slug."),
            {
                "name": "from",
                "in": "query",
                "required": True,
                "description": "The older tree size (a checkpoint's tree_size).",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            },
            {
                "name": "to",
                "in": "query",
                "required": True,
                "description": "The newer tree size, at most the latest checkpoint's.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            },
        ],
        "petitions",
    ),
    "/petitions/{slug}/leaves": _get(
        "listPetitionLogLeaves",
        "The leaves of a petition's log, to rebuild its tree and recount it",
        _json("LeafList", "A page of leaves."),
        _LOG,
        [
            _path_param("slug", _SLUG_PARAM, "The petition's slug."),
            {
                "name": "start",
                "in": "query",
                "description": "The first leaf index.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
            },
            {
                "name": "limit",
                "in": "query",
                "description": "Leaves per page (default 1000).",
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000},
            },
        ],
        "petitions",
    ),
    "/petitions/{slug}/inclusion": _get(
        "getPetitionLogInclusion",
        "Where a receipt's leaf is in the latest checkpoint, with its inclusion proof",
        _json("InclusionProof", "The proof."),
        _LOG,
        [
            _path_param("slug", _SLUG_PARAM, "The petition's slug."),
            {
                "name": "leaf_hash",
                "in": "query",
                "required": True,
                "description": "The receipt: the leaf hash shown after signing.",
                "schema": HASH,
            },
        ],
        "petitions",
    ),
    "/petitions/{slug}/timeline": _get(
        "getPetitionTimeline",
        "A public petition's campaign timeline: opened, milestones, updates, delivery, "
        "responses, closed or won",
        _json("Timeline", "The timeline, oldest first."),
        _MISSING,
        [_path_param("slug", _SLUG_PARAM, "The petition's slug.")],
        "petitions",
    ),
    "/news": _get(
        "listNews",
        "Published news posts, newest first",
        _json("NewsList", "A page of news posts.", last_modified=True),
        _BAD,
        [_LIMIT, _CURSOR],
        "news",
    ),
    "/news/{slug}": _get(
        "getNewsPost",
        "One published news post with its sanitised HTML",
        _json("NewsPost", "The news post.", last_modified=True),
        _MISSING,
        [_path_param("slug", _SLUG_PARAM, "The post's slug.")],
        "news",
    ),
    "/categories": _get(
        "listCategories",
        "Forum categories, in their order",
        _json("CategoryList", "Every category."),
        {},
        None,
        "forum",
    ),
    "/categories/{slug}/threads": _get(
        "listCategoryThreads",
        "Visible threads of a category, latest activity first",
        _json("ThreadList", "A page of threads.", last_modified=True),
        {**_BAD, **_MISSING},
        [_path_param("slug", _SLUG_PARAM, "The category's slug."), _LIMIT, _CURSOR],
        "forum",
    ),
    "/threads/{id}": _get(
        "getThread",
        "One visible thread with a page of its visible posts",
        _json("ThreadDetail", "The thread and a page of posts.", last_modified=True),
        {**_BAD, **_MISSING},
        [
            _path_param("id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Thread id."),
            {
                "name": "page",
                "in": "query",
                "description": "Page of posts (past the last one: an empty page).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
            },
            {
                "name": "per_page",
                "in": "query",
                "description": f"Posts per page (default {DEFAULT_LIMIT}).",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                },
            },
        ],
        "forum",
    ),
    "/openapi.json": _get(
        "getOpenApi",
        "This document",
        {
            "description": "The OpenAPI 3.1 document.",
            "headers": dict(_HEADERS),
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        {},
        None,
        "meta",
    ),
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "fancampaign API",
        "version": "1.1.0",
        "summary": "Read-only JSON: petitions with their counts, news, forum threads.",
        "description": (
            "Read-only and open to every origin (CORS). Lists page with an opaque `cursor`: "
            "follow the `next` link. Responses carry an ETag (and Last-Modified where the "
            "resource has a time); send them back for a 304. Requests are rate-limited per "
            "IP address (429 with Retry-After). Errors look like "
            '{"error": {"status": 404, "title": "Page not found", "detail": "…"}}.'
        ),
        "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
    },
    "servers": [{"url": "/api/v1"}],
    "tags": [
        {"name": "petitions"},
        {"name": "news"},
        {"name": "forum"},
        {"name": "meta"},
    ],
    "paths": PATHS,
    "components": {"schemas": SCHEMAS},
}


def spec(server_url: str | None = None) -> dict[str, Any]:
    """The document, with the absolute server URL when known."""
    document = copy.deepcopy(DOCUMENT)
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
