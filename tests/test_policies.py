"""The permission table: who (role and state) may do what, one parametrized row per case.

Policies are pure predicates, so the "things" they judge are plain stand-ins here.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_login import AnonymousUserMixin

from fancampaign import policies
from fancampaign.accounts.models import Role, User
from fancampaign.extensions import utcnow

OTHER_ID = 999
ROLES = ["visitor", "member", "organiser", "moderator", "admin"]


def person(role: str, *, state: str = "ok", user_id: int = 1) -> object:
    """A user of a role ("visitor": not logged in) in a state: ok unconfirmed suspended banned."""
    if role == "visitor":
        return AnonymousUserMixin()
    user = User(
        id=user_id,
        username=role,
        username_lower=role,
        email=f"{role}{user_id}@example.com",
        role=Role(role),
        email_confirmed_at=None if state == "unconfirmed" else utcnow(),
        suspended_until=utcnow() + timedelta(days=1) if state == "suspended" else None,
        is_banned=state == "banned",
    )
    return user


def thread(**kw: object) -> SimpleNamespace:
    return SimpleNamespace(**{"is_locked": False, "is_hidden": False, "author_id": OTHER_ID, **kw})


def post(**kw: object) -> SimpleNamespace:
    return SimpleNamespace(**{"author_id": OTHER_ID, "is_hidden": False, "is_deleted": False, **kw})


def petition(**kw: object) -> SimpleNamespace:
    return SimpleNamespace(**{"creator_id": OTHER_ID, "status": "open", **kw})


def decision(**kw: object) -> SimpleNamespace:
    """An audit-log row: a hide by another moderator, about someone else."""
    return SimpleNamespace(
        **{"action": "hide", "moderator_id": OTHER_ID, "target_user_id": OTHER_ID + 1, **kw}
    )


def appeal(**kw: object) -> SimpleNamespace:
    return SimpleNamespace(
        **{"appellant_id": OTHER_ID + 1, "status": "open", "action": decision(), **kw}
    )


# Each action: (name, call(user) -> bool). "own" things belong to user id 1.
ACTIONS = {
    "is_member": lambda u: policies.is_member(u),
    "participate": lambda u: policies.can_participate(u),
    "moderate": lambda u: policies.can_moderate(u),
    "admin": lambda u: policies.can_admin(u),
    "start_thread": lambda u: policies.can_start_thread(u, SimpleNamespace(is_staff_only=False)),
    "start_staff_thread": lambda u: policies.can_start_thread(
        u, SimpleNamespace(is_staff_only=True)
    ),
    "reply": lambda u: policies.can_reply(u, thread()),
    "reply_locked": lambda u: policies.can_reply(u, thread(is_locked=True)),
    "edit_own_post": lambda u: policies.can_edit_post(u, post(author_id=1)),
    "edit_others_post": lambda u: policies.can_edit_post(u, post()),
    "delete_own_post": lambda u: policies.can_delete_post(u, post(author_id=1)),
    "delete_others_post": lambda u: policies.can_delete_post(u, post()),
    "see_hidden_post": lambda u: policies.can_see_hidden(u, post(is_hidden=True)),
    "see_own_hidden_post": lambda u: policies.can_see_hidden(u, post(is_hidden=True, author_id=1)),
    "write_news": lambda u: policies.can_write_news(u),
    "see_draft_news": lambda u: policies.can_see_news(u, SimpleNamespace(is_published=False)),
    "see_published_news": lambda u: policies.can_see_news(u, SimpleNamespace(is_published=True)),
    "start_petition": lambda u: policies.can_start_petition(u),
    "open_petition_at_once": lambda u: policies.opens_petition_at_once(u),
    "manage_others_petition": lambda u: policies.can_manage_petition(u, petition()),
    "manage_own_pending_petition": lambda u: policies.can_manage_petition(
        u, petition(creator_id=1, status="pending")
    ),
    "manage_own_open_petition": lambda u: policies.can_manage_petition(u, petition(creator_id=1)),
    "see_pending_petition": lambda u: policies.can_see_petition(u, petition(status="pending")),
    "export_signatures": lambda u: policies.can_export_signatures(u, petition()),
    "withdraw_signature": lambda u: policies.can_withdraw_signature(u),
    "review_petition": lambda u: policies.can_review_petition(u, petition(status="pending")),
    "report": lambda u: policies.can_report(u, post()),
    "report_own_post": lambda u: policies.can_report(u, post(author_id=1)),
    "set_role_of_other": lambda u: policies.can_set_role(u, person("member", user_id=2), "admin"),
    "set_own_role": lambda u: policies.can_set_role(u, u, Role.MEMBER),
    "sanction_member": lambda u: policies.can_sanction(u, person("member", user_id=2)),
    "sanction_organiser": lambda u: policies.can_sanction(u, person("organiser", user_id=2)),
    "sanction_moderator": lambda u: policies.can_sanction(u, person("moderator", user_id=2)),
    "sanction_admin": lambda u: policies.can_sanction(u, person("admin", user_id=2)),
    "sanction_self": lambda u: policies.can_sanction(u, u),
    "manage_categories": lambda u: policies.can_manage_categories(u),
    "edit_public_profile": lambda u: policies.can_edit_public_profile(u),
    "in_good_standing": lambda u: policies.in_good_standing(u),
    # The admin console.
    "use_console": lambda u: policies.can_use_console(u),
    "resend_confirmation": lambda u: policies.can_resend_confirmation(
        u, person("member", state="unconfirmed", user_id=2)
    ),
    "resend_confirmation_confirmed": lambda u: policies.can_resend_confirmation(
        u, person("member", user_id=2)
    ),
    "erase_member": lambda u: policies.can_erase_account(u, person("member", user_id=2)),
    "erase_admin": lambda u: policies.can_erase_account(u, person("admin", user_id=2)),
    "erase_self": lambda u: policies.can_erase_account(u, u),
    "change_settings": lambda u: policies.can_change_settings(u),
    "resend_failed_mail": lambda u: policies.can_resend_mail(
        u, SimpleNamespace(failed_at=utcnow(), sent_at=None)
    ),
    "resend_sent_mail": lambda u: policies.can_resend_mail(
        u, SimpleNamespace(failed_at=None, sent_at=utcnow())
    ),
    # Appeals: "own" decisions are about user 1; "acted" ones were taken by user 1.
    "appeal_own_decision": lambda u: policies.can_appeal(u, decision(target_user_id=1)),
    "appeal_own_decision_again": lambda u: policies.can_appeal(
        u, decision(target_user_id=1), existing=appeal()
    ),
    "appeal_others_decision": lambda u: policies.can_appeal(u, decision()),
    "see_own_appeal": lambda u: policies.can_see_appeal(u, appeal(appellant_id=1)),
    "see_others_appeal": lambda u: policies.can_see_appeal(u, appeal()),
    "decide_appeal": lambda u: policies.can_decide_appeal(u, appeal()),
    "decide_appeal_on_own_decision": lambda u: policies.can_decide_appeal(
        u, appeal(action=decision(moderator_id=1))
    ),
    "decide_decided_appeal": lambda u: policies.can_decide_appeal(u, appeal(status="upheld")),
    # New-member safety: with no approved post yet, first 3 held, links after 3.
    "post_held_as_newcomer": lambda u: policies.must_hold_post(u, 0, 3),
    "post_held_after_approvals": lambda u: policies.must_hold_post(u, 3, 3),
    "post_links_as_newcomer": lambda u: policies.can_post_links(u, 0, 3),
}

# Expected answer per action for visitor, member, organiser, moderator, admin (all in good
# standing: confirmed, not suspended, not banned).
Y, N = True, False
TABLE = {
    #                              visitor member organiser moderator admin
    "is_member": (N, Y, Y, Y, Y),
    "participate": (N, Y, Y, Y, Y),
    "moderate": (N, N, N, Y, Y),
    "admin": (N, N, N, N, Y),
    "start_thread": (N, Y, Y, Y, Y),
    "start_staff_thread": (N, N, Y, Y, Y),
    "reply": (N, Y, Y, Y, Y),
    "reply_locked": (N, N, N, Y, Y),
    "edit_own_post": (N, Y, Y, Y, Y),
    "edit_others_post": (N, N, N, Y, Y),
    "delete_own_post": (N, Y, Y, Y, Y),
    "delete_others_post": (N, N, N, Y, Y),
    "see_hidden_post": (N, N, N, Y, Y),
    "see_own_hidden_post": (N, Y, Y, Y, Y),
    "write_news": (N, N, Y, Y, Y),
    "see_draft_news": (N, N, Y, Y, Y),
    "see_published_news": (Y, Y, Y, Y, Y),
    "start_petition": (N, Y, Y, Y, Y),
    "open_petition_at_once": (N, N, Y, Y, Y),
    "manage_others_petition": (N, N, Y, Y, Y),
    "manage_own_pending_petition": (N, Y, Y, Y, Y),
    "manage_own_open_petition": (N, N, Y, Y, Y),
    "see_pending_petition": (N, N, Y, Y, Y),
    "export_signatures": (N, N, Y, Y, Y),
    "withdraw_signature": (N, Y, Y, Y, Y),
    "review_petition": (N, N, N, Y, Y),
    "report": (N, Y, Y, Y, Y),
    "report_own_post": (N, N, N, N, N),
    "set_role_of_other": (N, N, N, N, Y),
    "set_own_role": (N, N, N, N, N),
    "sanction_member": (N, N, N, Y, Y),
    "sanction_organiser": (N, N, N, Y, Y),
    "sanction_moderator": (N, N, N, N, Y),
    "sanction_admin": (N, N, N, N, N),
    "sanction_self": (N, N, N, N, N),
    "manage_categories": (N, N, N, N, Y),
    "edit_public_profile": (N, Y, Y, Y, Y),
    "in_good_standing": (N, Y, Y, Y, Y),
    "use_console": (N, N, N, N, Y),
    "resend_confirmation": (N, N, N, N, Y),
    "resend_confirmation_confirmed": (N, N, N, N, N),
    "erase_member": (N, N, N, N, Y),
    "erase_admin": (N, N, N, N, N),
    "erase_self": (N, N, N, N, N),
    "change_settings": (N, N, N, N, Y),
    "resend_failed_mail": (N, N, N, N, Y),
    "resend_sent_mail": (N, N, N, N, N),
    "appeal_own_decision": (N, Y, Y, Y, Y),
    "appeal_own_decision_again": (N, N, N, N, N),
    "appeal_others_decision": (N, N, N, N, N),
    "see_own_appeal": (N, Y, Y, Y, Y),
    "see_others_appeal": (N, N, N, Y, Y),
    "decide_appeal": (N, N, N, Y, Y),
    "decide_appeal_on_own_decision": (N, N, N, N, N),
    "decide_decided_appeal": (N, N, N, N, N),
    "post_held_as_newcomer": (N, Y, N, N, N),
    "post_held_after_approvals": (N, N, N, N, N),
    "post_links_as_newcomer": (N, N, Y, Y, Y),
}

CASES = [
    pytest.param(role, action, expected, id=f"{role}-{action}")
    for action, row in TABLE.items()
    for role, expected in zip(ROLES, row, strict=True)
]


def test_the_table_covers_every_action():
    assert set(TABLE) == set(ACTIONS)


@pytest.mark.parametrize(("role", "action", "expected"), CASES)
def test_permission_table(role, action, expected):
    assert ACTIONS[action](person(role)) is expected


# The same table for suspended accounts: they log in, read what visitors read and see their
# own things; they change and export nothing, and their role's powers wait for the suspension
# to end. Everything else (every row missing here) is False for every role.
SUSPENDED_ROLES = ROLES[1:]
SUSPENDED_MAY = {
    #                              member organiser moderator admin
    "is_member": (Y, Y, Y, Y),
    "see_own_hidden_post": (Y, Y, Y, Y),
    "see_published_news": (Y, Y, Y, Y),
    "see_own_appeal": (Y, Y, Y, Y),
    # Appealing is how a suspended member contests the suspension.
    "appeal_own_decision": (Y, Y, Y, Y),
    # Not a power but whether a post would wait for approval: a suspended account posts
    # nothing, and has no organiser's exemption while suspended.
    "post_held_as_newcomer": (Y, Y, Y, Y),
}
# What a suspended account may do must be reading (or contesting its sanction): never one of
# these.
CHANGES_OR_EXPORTS = set(ACTIONS) - {
    "is_member",
    "see_hidden_post",
    "see_own_hidden_post",
    "see_draft_news",
    "see_published_news",
    "see_pending_petition",
    "see_own_appeal",
    "appeal_own_decision",
    "post_held_as_newcomer",
}

SUSPENDED_CASES = [
    pytest.param(role, action, SUSPENDED_MAY.get(action, (N,) * 4)[i], id=f"{role}-{action}")
    for action in ACTIONS
    for i, role in enumerate(SUSPENDED_ROLES)
]


@pytest.mark.parametrize(("role", "action", "expected"), SUSPENDED_CASES)
def test_permission_table_for_suspended_accounts(role, action, expected):
    assert ACTIONS[action](person(role, state="suspended")) is expected


@pytest.mark.parametrize(("role", "action", "expected"), SUSPENDED_CASES)
def test_permission_table_for_banned_accounts(role, action, expected):
    # A banned account cannot even log in: it is allowed nothing a visitor is not.
    allowed_to_visitors = ACTIONS[action](person("visitor"))
    assert ACTIONS[action](person(role, state="banned")) is allowed_to_visitors


def test_a_suspended_account_may_only_read():
    assert not set(SUSPENDED_MAY) & CHANGES_OR_EXPORTS


@pytest.mark.parametrize("role", SUSPENDED_ROLES)
@pytest.mark.parametrize("state", ["suspended", "banned"])
@pytest.mark.parametrize("action", sorted(CHANGES_OR_EXPORTS))
def test_a_suspended_or_banned_account_can_change_or_export_nothing(role, state, action):
    assert ACTIONS[action](person(role, state=state)) is False


def test_suspended_organiser_cannot_close_a_petition_or_export_its_signatures():
    organiser = person("organiser", state="suspended")
    assert policies.can_manage_petition(organiser, petition()) is False
    assert policies.can_export_signatures(organiser, petition()) is False


# People not in good standing: what they lose, whatever their role.
PARTICIPATION = ["participate", "start_thread", "reply", "start_petition", "report"]


@pytest.mark.parametrize("role", ROLES[1:])
@pytest.mark.parametrize("state", ["unconfirmed", "suspended", "banned"])
@pytest.mark.parametrize("action", PARTICIPATION)
def test_unconfirmed_suspended_and_banned_people_cannot_participate(role, state, action):
    assert ACTIONS[action](person(role, state=state)) is False


@pytest.mark.parametrize("role", ROLES[1:])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_banned_account_is_allowed_nothing_a_visitor_is_not(role, action):
    if ACTIONS[action](person("visitor")):
        return
    assert ACTIONS[action](person(role, state="banned")) is False


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("ok", None),
        ("unconfirmed", "confirm your email address"),
        ("suspended", "suspended"),
        ("banned", "log in"),
    ],
)
def test_participation_problem_says_why_in_words(state, message):
    problem = policies.participation_problem(person("member", state=state))
    if message is None:
        assert problem is None
    else:
        assert message in problem
    assert "log in" in policies.participation_problem(person("visitor"))


def test_a_suspended_member_can_still_appeal_their_suspension():
    suspended = person("member", state="suspended")
    assert policies.can_appeal(suspended, decision(action="suspend", target_user_id=1))


def test_a_suspended_organiser_cannot_write_news():
    assert policies.can_write_news(person("organiser", state="suspended")) is False


def test_an_expired_suspension_no_longer_counts():
    user = person("member")
    user.suspended_until = utcnow() - timedelta(seconds=1)
    assert policies.can_participate(user)


def test_every_policy_is_a_template_global(app):
    for name in ("can_reply", "can_moderate", "can_write_news", "participation_problem"):
        assert app.jinja_env.globals[name] is getattr(policies, name)


def test_policies_do_not_import_flask():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(policies))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [node])
        if getattr(alias, "name", None)
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "flask" not in imported
    assert "flask_login" not in imported
