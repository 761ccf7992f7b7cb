"""The log's pages and API: checkpoints, proofs, receipts, the public key."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from fancampaign.extensions import db
from fancampaign.ledger import services as ledger
from fancampaign.ledger.verifier import checkpoint_text, verify_consistency, verify_inclusion
from fancampaign.petitions import services
from tests.api.helpers import check_response
from tests.factories import make_petition, make_user


def signed(petition, n: int) -> list[int]:
    ids = [services.sign_petition(make_user(commit=False), petition).id for _ in range(n)]
    db.session.commit()
    return ids


def test_the_public_key_is_served_as_pem(app, client):
    response = client.get("/.well-known/fancampaign-log-key")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    key = load_pem_public_key(response.data)
    assert key.public_bytes_raw() == ledger.signing_key().public_key().public_bytes_raw()


def test_the_checkpoints_api_lists_signed_checkpoints(app, client):
    petition = make_petition()
    signed(petition, 3)
    path = f"/api/v1/petitions/{petition.slug}/checkpoints"
    data = check_response(path, client.get(path))
    (item,) = data["items"]
    assert (item["tree_size"], item["standing_count"], item["number"]) == (3, 3, 1)
    assert data["petition_id"] == petition.id and data["next"] is None
    key = load_pem_public_key(client.get("/.well-known/fancampaign-log-key").data)
    key.verify(
        base64.b64decode(item["signature"]),
        checkpoint_text(
            petition.id, 3, bytes.fromhex(item["root_hash"]), 3, item["created_at"], "update"
        ),
    )


@pytest.mark.config(LOG_CHECKPOINT_INTERVAL=0)
def test_checkpoints_page_with_a_next_link(app, client):
    petition = make_petition()
    for _ in range(3):
        signed(petition, 1)
        ledger.checkpoint_if_due(petition)
        db.session.commit()
    path = f"/api/v1/petitions/{petition.slug}/checkpoints?limit=2"
    first = check_response(path, client.get(path))
    assert [c["number"] for c in first["items"]] == [1, 2]
    rest = client.get(first["next"]).get_json()
    assert [c["number"] for c in rest["items"]] == [3] and rest["next"] is None


@pytest.mark.config(LOG_CHECKPOINT_INTERVAL=0)
def test_the_consistency_api_proves_the_log_only_grew(app, client):
    petition = make_petition()
    signed(petition, 3)
    client.get(f"/api/v1/petitions/{petition.slug}/checkpoints")
    signed(petition, 4)
    items = client.get(f"/api/v1/petitions/{petition.slug}/checkpoints").get_json()["items"]
    old, new = items
    path = f"/api/v1/petitions/{petition.slug}/consistency?from=3&to=7"
    data = check_response(path, client.get(path))
    proof = [bytes.fromhex(h) for h in data["proof"]]
    assert verify_consistency(
        3, 7, bytes.fromhex(old["root_hash"]), bytes.fromhex(new["root_hash"]), proof
    )


@pytest.mark.parametrize("query", ["from=3&to=2", "from=1&to=99", "from=x&to=1", "to=-1"])
def test_bad_consistency_sizes_get_a_400(app, client, query):
    petition = make_petition()
    signed(petition, 3)
    path = f"/api/v1/petitions/{petition.slug}/consistency?{query}"
    response = client.get(path)
    assert response.status_code == 400
    check_response(path, response)


def test_the_inclusion_api_proves_a_receipt(app, client):
    petition = make_petition()
    ids = signed(petition, 5)
    receipt = ledger.receipt_hash(petition.id, ids[2])
    db.session.commit()
    path = f"/api/v1/petitions/{petition.slug}/inclusion?leaf_hash={receipt}"
    data = check_response(path, client.get(path))
    checkpoint = data["checkpoint"]
    assert data["kind"] == "add" and checkpoint["tree_size"] == 5
    assert verify_inclusion(
        data["leaf_index"],
        5,
        bytes.fromhex(receipt),
        [bytes.fromhex(h) for h in data["proof"]],
        bytes.fromhex(checkpoint["root_hash"]),
    )


@pytest.mark.parametrize(("leaf", "status"), [("ab" * 32, 404), ("xyz", 400), ("", 400)])
def test_unknown_or_malformed_receipts_are_refused(app, client, leaf, status):
    petition = make_petition()
    signed(petition, 1)
    path = f"/api/v1/petitions/{petition.slug}/inclusion?leaf_hash={leaf}"
    response = client.get(path)
    assert response.status_code == status
    check_response(path, response)


def test_the_log_of_a_draft_petition_is_not_found(app, client):
    petition = make_petition(status="draft")
    assert client.get(f"/petitions/{petition.slug}/log").status_code == 404
    assert client.get(f"/api/v1/petitions/{petition.slug}/checkpoints").status_code == 404


def test_the_log_page_explains_and_lists_checkpoints(app, client):
    petition = make_petition()
    signed(petition, 2)
    page = client.get(f"/petitions/{petition.slug}/log")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "only grow" in text and 'data-standing-count="2"' in text
    assert "fancampaign verify-log" in text


def test_the_petition_page_marks_its_count_and_links_the_log(app, client):
    petition = make_petition()
    signed(petition, 2)
    text = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert 'data-signature-count="2"' in text
    assert f"/petitions/{petition.slug}/log" in text


def test_a_member_sees_a_receipt_after_signing_and_can_verify_it(app, client, login):
    petition = make_petition()
    user = login(make_user())
    response = client.post(f"/petitions/{petition.slug}/sign", follow_redirects=True)
    text = response.get_data(as_text=True)
    signature = services.signature_of(user, petition)
    receipt = ledger.receipt_hash(petition.id, signature.id)
    assert f"Your receipt: {receipt}" in text
    page = client.get(f"/petitions/{petition.slug}/verify")
    assert receipt in page.get_data(as_text=True)  # their own receipt, ready to check
    checked = client.get(f"/petitions/{petition.slug}/verify?receipt={receipt}")
    assert checked.status_code == 200
    assert "data-verified" in checked.get_data(as_text=True)
    assert "Your signature is entry 1 of 1 (leaf index 0)" in checked.get_data(as_text=True)


def test_a_guest_sees_a_receipt_after_confirming(app, client):
    from tests.ledger.test_services import last_mail

    petition = make_petition()
    client.post(
        f"/petitions/{petition.slug}/sign",
        data={"name": "Guest", "email": "guest@example.com", "consent": "y"},
    )
    mail = last_mail()
    token = mail.split("/signatures/confirm/")[1].split()[0]
    receipt = mail.split("Your receipt: ")[1][:64]
    done = client.post(f"/signatures/confirm/{token}", follow_redirects=True)
    assert f"Your receipt: {receipt}" in done.get_data(as_text=True)
    checked = client.get(f"/petitions/{petition.slug}/verify?receipt={receipt}")
    assert "data-verified" in checked.get_data(as_text=True)


@pytest.mark.parametrize(("receipt", "status"), [("nope", 400), ("cd" * 32, 404)])
def test_the_verify_page_explains_a_bad_receipt(app, client, receipt, status):
    petition = make_petition()
    signed(petition, 1)
    response = client.get(f"/petitions/{petition.slug}/verify?receipt={receipt}")
    assert response.status_code == status
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_a_damaged_log_answers_503_not_500(app, client):
    from fancampaign.ledger.models import LogEntry

    petition = make_petition()
    user = make_user()
    services.sign_petition(user, petition)
    services.withdraw_signature(user, petition)
    db.session.commit()
    db.session.execute(
        LogEntry.__table__.delete().where(
            LogEntry.petition_id == petition.id, LogEntry.kind == "add"
        )
    )
    db.session.commit()
    path = f"/api/v1/petitions/{petition.slug}/checkpoints"
    response = client.get(path)
    assert response.status_code == 503
    assert "damaged" in check_response(path, response)["error"]["detail"]
