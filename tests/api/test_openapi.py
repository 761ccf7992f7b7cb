"""The OpenAPI document: valid 3.1, served, and covering every API route."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

from fancampaign.api.openapi import DOCUMENT


def test_document_is_valid_openapi_3_1():
    validate(DOCUMENT, cls=OpenAPIV31SpecValidator)


def test_served_document_is_valid_and_cacheable(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    served = response.get_json()
    assert served["openapi"] == "3.1.0"
    assert served["servers"] == [{"url": "http://localhost/api/v1"}]
    validate(served, cls=OpenAPIV31SpecValidator)
    again = client.get("/api/v1/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_every_api_route_is_documented(app):
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
    }
    documented = {re.sub(r"\{thread_id\}", "{id}", p) for p in DOCUMENT["paths"]}
    routes = {r.replace("{thread_id}", "{id}") for r in routes}
    assert routes == documented
