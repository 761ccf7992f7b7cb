"""The console's user pages: find, see counts, change role, resend confirmation, erase."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fancampaign.accounts.models import Role, User
from fancampaign.admin import services
from fancampaign.cli import main
from fancampaign.errors import InvalidInput, NotAllowed
from fancampaign.extensions import db
from fancampaign.moderation.models import COMMAND_LINE, ModerationAction
from fancampaign.moderation.services import sanction_user
from fancampaign.petitions.services import sign_petition
from tests.factories import make_category, make_petition, make_reply, make_thread, make_user
from tests.helpers import count_queries


def log_rows(action: str) -> list[ModerationAction]:
    return list(
        db.session.scalars(sa.select(ModerationAction).where(ModerationAction.action == action))
    )


@pytest.mark.parametrize("role", [None, Role.MEMBER, Role.ORGANISER, Role.MODERATOR])
def test_only_admins_reach_the_console(client, login, role):
    if role is not None:
        login(make_user("someone", role=role))
    for path in ("/admin/", "/admin/users"):
        response = client.get(path)
        if role is None:
            assert response.status_code == 302
            assert "/login" in response.headers["Location"]
        else:
            assert response.status_code == 403


def test_the_user_list_finds_by_name_or_email_and_shows_the_counts(client, login, admin):
    login(admin)
    nyssiana = make_user("nyssiana", display_name="Nyssiana Vance", email="nv@studio.example")
    make_user("zapan", email="zapan@example.com", confirmed=False)
    thread = make_thread(nyssiana, make_category())
    make_reply(nyssiana, thread)
    petition = make_petition(admin)
    sign_petition(nyssiana, petition)
    db.session.commit()
    for query in ("vance", "studio.example", "NYSS"):
        page = client.get("/admin/users", query_string={"q": query}).get_data(as_text=True)
        assert "@nyssiana" in page and "@zapan" not in page, query
    _, rows = services.user_rows("nyssiana")
    assert (rows[0].posts, rows[0].signatures, rows[0].sanctions) == (2, 1, 0)
    page = client.get("/admin/users", query_string={"role": "admin"}).get_data(as_text=True)
    assert "@boss" in page and "@nyssiana" not in page
    assert "unconfirmed" in client.get("/admin/users?q=zapan").get_data(as_text=True)


def test_the_user_list_runs_the_same_queries_for_3_or_60_users(client, login, admin):
    login(admin)

    def queries() -> int:
        with count_queries() as statements:
            assert client.get("/admin/users").status_code == 200
        return len(statements)

    make_user()
    queries()  # a worker reads the site's settings once per version
    few = queries()
    for _ in range(60):
        make_user(commit=False)
    db.session.commit()
    assert queries() == few


def test_bad_filters_are_a_400(client, login, admin):
    login(admin)
    assert client.get("/admin/users", query_string={"role": "emperor"}).status_code == 400
    assert client.get("/admin/users", query_string={"q": "x" * 101}).status_code == 400


def test_an_admin_changes_a_role_and_the_log_says_who_and_why(client, login, admin):
    login(admin)
    fan = make_user("gally")
    response = client.post(
        "/admin/users/gally/role", data={"role": "moderator", "reason": "Trusted helper"}
    )
    assert response.status_code == 302
    assert db.session.get(User, fan.id).role == Role.MODERATOR
    (row,) = log_rows("set_role")
    assert (row.moderator_id, row.target_user_id, row.reason) == (
        admin.id,
        fan.id,
        "Trusted helper",
    )
    assert row.details == "member → moderator"
    assert "Changed role" in client.get("/moderation/log").get_data(as_text=True)


def test_a_role_change_needs_a_reason_and_a_real_role(client, login, admin):
    login(admin)
    make_user("gally")
    assert client.post("/admin/users/gally/role", data={"role": "moderator"}).status_code == 400
    response = client.post("/admin/users/gally/role", data={"role": "emperor", "reason": "x"})
    assert response.status_code == 400
    assert log_rows("set_role") == []


def test_an_admin_cannot_change_their_own_role(admin):
    with pytest.raises(NotAllowed):
        services.change_role(admin, admin, "member", "stepping down")


def test_the_command_line_set_role_is_logged_as_the_system(runner, app):
    fan = make_user("gelda")
    result = runner.invoke(main, ["set-role", "gelda", "moderator"])
    assert result.exit_code == 0, result.output
    (row,) = log_rows("set_role")
    assert row.moderator_id is None and row.target_user_id == fan.id
    assert row.actor_label == COMMAND_LINE == "system (command line)"


def test_resend_confirmation_queues_the_link_and_is_logged(client, login, admin, outbox):
    login(admin)
    make_user("zapan", confirmed=False)
    outbox.clear()
    assert client.post("/admin/users/zapan/resend-confirmation").status_code == 302
    assert len(outbox) == 1 and "/confirm/" in str(outbox[0].get_content())
    assert len(log_rows("resend_confirmation")) == 1


def test_resend_confirmation_is_refused_for_a_confirmed_account(client, login, admin):
    login(admin)
    make_user("gally")
    assert client.post("/admin/users/gally/resend-confirmation").status_code == 403
    assert log_rows("resend_confirmation") == []


def test_erasing_an_account_needs_its_name_typed_and_is_logged(client, login, admin):
    login(admin)
    fan = make_user("gally", display_name="Gally")
    response = client.post("/admin/users/gally/erase", data={"confirm": "ido", "reason": "GDPR"})
    assert response.status_code == 400
    assert "Type the account" in response.get_data(as_text=True)
    response = client.post(
        "/admin/users/gally/erase", data={"confirm": "Gally", "reason": "Asked by email"}
    )
    assert response.status_code == 302
    erased = db.session.get(User, fan.id)
    assert erased.is_deleted and erased.email is None and erased.username == f"deleted{fan.id}"
    (row,) = log_rows("erase_account")
    assert "gally" not in row.target_label.lower() and row.reason == "Asked by email"


def test_an_admin_account_cannot_be_erased_from_the_console(admin):
    other = make_user("root2", role=Role.ADMIN)
    with pytest.raises(NotAllowed):
        services.erase_account(admin, other, "root2", "no")
    with pytest.raises(NotAllowed):
        services.erase_account(admin, admin, "boss", "no")


def test_sanctions_show_in_the_counts(admin, moderator):
    fan = make_user("gally")
    sanction_user(moderator, fan, "warn", "Be nice")
    db.session.commit()
    assert services.user_counts(fan).sanctions == 1


def test_the_same_role_again_is_refused(admin):
    fan = make_user("gally")
    with pytest.raises(InvalidInput):
        services.change_role(admin, fan, "member", "no change")
