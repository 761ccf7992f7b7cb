"""/.well-known/security.txt (RFC 9116): where to report a security hole."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fancampaign.extensions import utcnow


def fields(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        found.setdefault(name, []).append(value)
    return found


@pytest.mark.config(SECURITY_CONTACT="security@campaign.example.org")
def test_security_txt_names_the_contact_an_expiry_and_its_canonical_address(client):
    response = client.get("/.well-known/security.txt")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = fields(response.get_data(as_text=True))
    assert found["Contact"] == ["mailto:security@campaign.example.org"]
    assert found["Canonical"] == ["http://localhost/.well-known/security.txt"]
    expires = datetime.fromisoformat(found["Expires"][0].replace("Z", "+00:00"))
    assert utcnow() + timedelta(days=30) < expires < utcnow() + timedelta(days=365)


@pytest.mark.config(
    SECURITY_CONTACT=["https://campaign.example.org/report", "security@campaign.example.org"]
)
def test_security_txt_lists_every_contact_and_keeps_urls_as_they_are(client):
    found = fields(client.get("/.well-known/security.txt").get_data(as_text=True))

    assert found["Contact"] == [
        "https://campaign.example.org/report",
        "mailto:security@campaign.example.org",
    ]


def test_without_a_contact_there_is_no_security_txt(client):
    assert client.get("/.well-known/security.txt").status_code == 404
