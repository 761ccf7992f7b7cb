"""Check real API responses against the OpenAPI document's schemas."""

from __future__ import annotations

import re
from typing import Any

import jsonschema

from fancampaign.api.openapi import DOCUMENT


def _operation(path: str) -> dict[str, Any]:
    """The GET operation whose template matches a concrete /api/v1 path."""
    bare = path.split("?", 1)[0].removeprefix("/api/v1")
    for template, item in DOCUMENT["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, bare):
            return item["get"]
    raise AssertionError(f"{path} is not in the OpenAPI document")


def check_response(path: str, response: Any) -> Any:
    """Assert the response's status is documented and its JSON matches the schema."""
    responses = _operation(path)["responses"]
    status = str(response.status_code)
    assert status in responses, f"{path}: status {status} is not documented"
    content = responses[status].get("content")
    if content is None:
        assert not response.data
        return None
    assert response.mimetype == "application/json"
    schema = {**content["application/json"]["schema"], "components": DOCUMENT["components"]}
    data = response.get_json()
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    for name, header in responses[status].get("headers", {}).items():
        if header.get("required"):
            assert name in response.headers, f"{path}: header {name} missing"
    return data
