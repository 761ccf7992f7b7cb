"""Recruiting, called through the services: share codes, credit for the signatures a link
brought (once, confirmed, standing, never for oneself) and the counts organisers see."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role
from fancampaign.errors import InvalidInput, NotAllowed
from fancampaign.extensions import db
from fancampaign.petitions import services
from fancampaign.petitions.models import CODE_ALPHABET, CODE_LENGTH, Referral, Signature
from tests.factories import make_petition, make_user
from tests.petitions.test_services import guest_sign, outbox, token_from  # noqa: F401

SECRET = "test-secret-key"


def code_of(user) -> str:
    code = services.issue_recruiter_code(user).code
    db.session.commit()
    return code


def referrals() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) or 0


def confirm_last(outbox) -> None:  # noqa: F811
    services.confirm_signature(token_from(outbox), SECRET, 3600)
    db.session.commit()


# Codes ------------------------------------------------------------------------------------


def test_a_member_has_one_short_unguessable_code_for_every_petition(app):
    ada, bo = make_user("ada"), make_user("bob")
    first = code_of(ada)
    assert len(first) == CODE_LENGTH and set(first) <= set(CODE_ALPHABET)
    assert str(ada.id) != first
    assert code_of(ada) == first  # the same one, asked again
    assert code_of(bo) != first


def test_visitors_get_no_code(app):
    from flask_login import AnonymousUserMixin

    with pytest.raises(NotAllowed):
        services.issue_recruiter_code(AnonymousUserMixin())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abcd2345", "abcd2345"),
        (" ABCD2345 ", "abcd2345"),  # typed from a screenshot
        ("abcd234", None),
        ("abcd23456", None),
        ("abcd2340", None),  # 0 is not in the alphabet
        ("<script>", None),
        ("ab/d2345", None),
        ("ábcd2345", None),
        ("x" * 5000, None),
        (None, None),
        (["abcd2345"], None),
    ],
)
def test_only_codes_that_look_like_codes_are_read(text, expected):
    assert services.normal_code(text) == expected


# Credit -----------------------------------------------------------------------------------


def test_a_member_signing_by_a_link_credits_its_owner_once(app, count_rows):
    petition = make_petition()
    recruiter, fan = make_user("recruiter"), make_user("fan")
    services.sign_petition(recruiter, petition)
    code = code_of(recruiter)

    services.sign_petition(fan, petition, recruiter_code=code)
    db.session.commit()
    with pytest.raises(services.AlreadySigned):
        services.sign_petition(fan, petition, recruiter_code=code)
    db.session.rollback()

    assert services.brought(recruiter, petition) == 1
    assert referrals() == 1
    assert count_rows(petition) == (2, 2)  # the link changed nobody's count


def test_a_code_never_changes_the_count(app, count_rows):
    with_code, without = make_petition(), make_petition()
    recruiter = make_user("recruiter")
    code = code_of(recruiter)
    for n in range(3):
        fan = make_user(f"fan{n}x")
        services.sign_petition(fan, with_code, recruiter_code=code)
        services.sign_petition(fan, without)
    db.session.commit()
    assert count_rows(with_code) == count_rows(without) == (3, 3)
    assert services.brought(recruiter, with_code) == 3


def test_no_credit_for_a_member_following_their_own_link(app):
    petition = make_petition()
    member = make_user("selfie")
    services.sign_petition(member, petition, recruiter_code=code_of(member))
    db.session.commit()
    assert services.brought(member, petition) == 0
    assert referrals() == 0


def test_no_credit_for_a_guest_signing_with_the_recruiters_own_address(app, outbox):  # noqa: F811
    petition = make_petition()
    recruiter = make_user("gmailer", email="the.recruiter@gmail.com")
    code = code_of(recruiter)
    guest_sign(petition, email="therecruiter+alt@gmail.com", recruiter_code=code)
    confirm_last(outbox)
    assert services.brought(recruiter, petition) == 0
    assert referrals() == 0


def test_a_guest_credits_the_recruiter_only_once_confirmed(app, outbox, count_rows):  # noqa: F811
    petition = make_petition()
    recruiter = make_user("recruiter")
    code = code_of(recruiter)
    guest_sign(petition, email="friend@example.com", recruiter_code=code)
    assert services.brought(recruiter, petition) == 0
    assert count_rows(petition) == (0, 0)

    confirm_last(outbox)

    assert services.brought(recruiter, petition) == 1
    assert count_rows(petition) == (1, 1)


def test_a_guests_second_attempt_credits_no_one_else(app, outbox):  # noqa: F811
    petition = make_petition()
    first, second = make_user("first"), make_user("second")
    guest_sign(petition, email="friend@example.com", recruiter_code=code_of(first))
    guest_sign(petition, email="friend@example.com", recruiter_code=code_of(second))
    confirm_last(outbox)
    assert services.brought(first, petition) == 1
    assert services.brought(second, petition) == 0


def test_withdrawing_takes_the_credit_back(app, outbox):  # noqa: F811
    petition = make_petition()
    recruiter, fan = make_user("recruiter"), make_user("fan")
    code = code_of(recruiter)
    services.sign_petition(fan, petition, recruiter_code=code)
    guest_sign(petition, email="friend@example.com", recruiter_code=code)
    confirm_last(outbox)
    assert services.brought(recruiter, petition) == 2

    services.withdraw_signature(fan, petition)
    guest_id = db.session.scalar(
        sa.select(Signature.id).where(Signature.email_normalised == "friend@example.com")
    )
    services.withdraw_signature_by_id(petition, guest_id)
    db.session.commit()

    assert services.brought(recruiter, petition) == 0
    assert referrals() == 0


@pytest.mark.parametrize("code", ["", "zzzzzzzz", "<script>", "x" * 5000, "abcd2340", None])
def test_unknown_and_malformed_codes_are_ignored(app, outbox, count_rows, code):  # noqa: F811
    petition = make_petition()
    services.sign_petition(make_user("fan"), petition, recruiter_code=code)
    db.session.commit()
    guest_sign(petition, email="friend@example.com", recruiter_code=code)
    confirm_last(outbox)
    assert count_rows(petition) == (2, 2)
    assert referrals() == 0


def test_a_guests_own_link_credits_them(app, outbox):  # noqa: F811
    petition = make_petition()
    guest_sign(petition, email="guest@example.com")
    confirm_last(outbox)
    signature = db.session.scalar(sa.select(Signature))
    code = services.issue_guest_code(signature)
    db.session.commit()
    assert services.issue_guest_code(signature).code == code.code

    friend = make_user("friend")
    services.sign_petition(friend, petition, recruiter_code=code.code)
    services.sign_petition(friend, make_petition(), recruiter_code=code.code)  # not its petition
    db.session.commit()

    assert services.brought_by_code(code) == 1
    assert services.source_counts(petition).personal == 1


def test_an_unconfirmed_guest_has_no_code_yet(app, outbox):  # noqa: F811
    petition = make_petition()
    guest_sign(petition, email="guest@example.com")
    signature = db.session.scalar(sa.select(Signature))
    with pytest.raises(services.NotSigned):
        services.issue_guest_code(signature)


# Sources and lists ------------------------------------------------------------------------


def test_organisers_name_sources_and_see_counts_that_add_up(app, outbox):  # noqa: F811
    organiser = make_user("campaigner", role=Role.ORGANISER)
    petition = make_petition(organiser)
    other = make_petition(organiser)
    newsletter = services.create_source(organiser, petition, "  Newsletter ")
    discord = services.create_source(organiser, petition, "Discord")
    db.session.commit()
    recruiter = make_user("recruiter")
    services.sign_petition(recruiter, petition)
    services.sign_petition(make_user("signer_a"), petition, recruiter_code=newsletter.code)
    services.sign_petition(make_user("signer_b"), petition, recruiter_code=newsletter.code)
    services.sign_petition(make_user("signer_c"), petition, recruiter_code=code_of(recruiter))
    services.sign_petition(make_user("signer_d"), other, recruiter_code=discord.code)  # not its own
    guest_sign(petition, email="friend@example.com", recruiter_code=discord.code)  # unconfirmed

    counts = services.source_counts(petition)

    assert newsletter.label == "Newsletter"
    assert [(code.label, n) for code, n in counts.sources] == [("Newsletter", 2), ("Discord", 0)]
    assert (counts.personal, counts.direct) == (1, 1)
    assert services.source_counts(other).direct == 1


def test_only_organisers_make_sources_and_names_are_unique(app):
    organiser = make_user("campaigner", role=Role.ORGANISER)
    petition = make_petition(organiser)
    with pytest.raises(NotAllowed):
        services.create_source(make_user("member"), petition, "Newsletter")
    services.create_source(organiser, petition, "Newsletter")
    for label in ("newsletter", "", "x" * 41):
        with pytest.raises(InvalidInput) as err:
            services.create_source(organiser, petition, label)
        assert err.value.details["field"] == "label"


def test_top_recruiters_are_only_those_who_chose_to_be_listed(app):
    petition = make_petition()
    shy, proud = make_user("shy"), make_user("proud", display_name="Proud Fan")
    for n, recruiter in enumerate([shy, proud, proud]):
        fan = make_user(f"fan{n}y")
        services.sign_petition(fan, petition, recruiter_code=code_of(recruiter))
    assert services.top_recruiters(petition) == []

    services.set_recruiter_shown(proud, True)
    services.set_recruiter_shown(shy, True)
    services.set_recruiter_shown(shy, False)
    db.session.commit()

    assert services.top_recruiters(petition) == [("Proud Fan", 2)]


# Concurrency: real threads through a threaded server, on either database ------------------

SIGNERS = 20
POOL = {"pool_size": 10, "max_overflow": 60, "pool_timeout": 60}


@pytest.mark.config(SERVER_NAME=None, SQLALCHEMY_ENGINE_OPTIONS=POOL)
def test_concurrent_signs_by_a_link_credit_each_signature_exactly_once(app, count_rows):
    """Every signer double-submits at once, all by the recruiter's link, and the recruiter
    signs by their own link meanwhile: one credit per signer, none for the recruiter, and
    the count is the signatures'."""
    import threading
    from collections import Counter

    from werkzeug.serving import make_server

    from tests.petitions.test_concurrency import post

    petition = make_petition(goal=1000)
    recruiter = make_user("recruiter")
    code = code_of(recruiter)
    users = [make_user(commit=False) for _ in range(SIGNERS)]
    db.session.commit()
    serializer = app.session_interface.get_signing_serializer(app)

    def cookie(user) -> str:
        data = {"_user_id": user.get_id(), "_fresh": True, "recruited": [[petition.slug, code]]}
        return f"{app.config['SESSION_COOKIE_NAME']}={serializer.dumps(data)}"

    jobs = [cookie(user) for user in [*users, recruiter] for _twice in range(2)]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    barrier = threading.Barrier(len(jobs))
    statuses: list[object] = []
    lock = threading.Lock()

    def run(jar: str) -> None:
        barrier.wait()
        try:
            status: object = post(server.server_port, f"/petitions/{petition.slug}/sign", jar)
        except Exception as exc:  # a dropped connection counts as a failure too
            status = f"error: {exc!r}"
        with lock:
            statuses.append(status)

    try:
        threads = [threading.Thread(target=run, args=(jar,)) for jar in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
    finally:
        server.shutdown()
        thread.join(10)

    assert Counter(statuses) == {303: len(jobs)}
    assert count_rows(petition) == (SIGNERS + 1, SIGNERS + 1)
    assert referrals() == SIGNERS
    assert services.brought(recruiter, petition) == SIGNERS


def test_export_holds_the_code_and_deletion_forgets_the_recruiter(app):
    from fancampaign.accounts.services import erase_user, export_data

    petition = make_petition()
    recruiter = make_user("recruiter")
    code = code_of(recruiter)
    services.sign_petition(make_user("friend"), petition, recruiter_code=code)
    db.session.commit()

    exported = export_data(recruiter)["share_link"]
    assert exported == {
        "code": code,
        "listed_among_top_recruiters": False,
        "brought": {petition.slug: 1},
    }

    erase_user(recruiter)
    db.session.commit()
    from fancampaign.petitions.models import RecruiterCode

    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecruiterCode)) == 0
    assert db.session.scalar(sa.select(Referral.recruiter_id)) is None
    assert services.source_counts(petition).personal == 1  # the signature still came by a link
