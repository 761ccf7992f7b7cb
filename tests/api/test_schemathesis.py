"""Property-based tests of the whole API against its own OpenAPI document (schemathesis).

Every operation gets a bounded number of generated requests, valid and invalid, sent in
process through the WSGI app (no server); every response must be documented (status,
content type, headers) and match its schema, and nothing may answer 500.

(schemathesis' own lazy pytest loader, `schemathesis.pytest.from_fixture`, touches a pytest
private attribute that pytest 9 removed, so the cases come from `as_strategy()` instead.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from fancampaign.api.openapi import DOCUMENT
from fancampaign.extensions import db
from tests.factories import make_category, make_news_post, make_petition, make_thread, make_user

MAX_EXAMPLES = 30


@pytest.fixture
def api_schema(app: Any) -> Any:
    author = make_user()
    category = make_category("general")
    make_thread(author, category, title="A thread", body="Hello", replies=2)
    make_petition(status="open")
    make_petition(status="won")
    make_news_post(title="Some news")
    db.session.commit()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _without_cursor(case: Any) -> Any:
    if case.query:
        case.query.pop("cursor", None)
    return case


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
@pytest.mark.parametrize("path", sorted(DOCUMENT["paths"]))
def test_api_conforms_to_its_openapi_document(api_schema: Any, path: str, mode: Any) -> None:
    get = DOCUMENT["paths"][path]["get"]
    if mode == schemathesis.GenerationMode.NEGATIVE and not get.get("parameters"):
        pytest.skip("nothing to get wrong: the operation takes no parameters")
    operation = api_schema[path]["GET"]
    strategy = operation.as_strategy(generation_mode=mode)
    if mode == schemathesis.GenerationMode.POSITIVE:
        # A schema-valid string is not a cursor we signed (400 is right for it): valid
        # requests leave it out; tests/api/test_api.py follows real `next` links.
        strategy = strategy.map(_without_cursor)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate()

    run()
