"""Who may do what: one definition of each permission, used by services, guards and templates.

Pure predicates: `user` is a User or Flask-Login's anonymous user (is_authenticated False);
no Flask imports, no queries. A service enforces these; a guard uses them for an early 403;
a template calls the same function to hide a button.

Every predicate that lets someone change or export anything goes through
`in_good_standing`: a suspended or banned account can change or export nothing. A suspended
account still logs in and out, reads what visitors read and sees its own things; the powers
its role adds (organiser, moderator, admin, staff-only reading) wait for the suspension to end.
"""

from __future__ import annotations

from typing import Any

from fancampaign.accounts.models import Role

# What `role_at_least` compares: member < organiser < moderator < admin.
RANKS = {role: role.rank for role in Role}


def is_member(user: Any) -> bool:
    """A logged-in, active account."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def in_good_standing(user: Any) -> bool:
    """May change or export something at all: logged in, not banned, not suspended.

    The one place the rule "a suspended or banned account can change or export nothing" lives.
    """
    return is_member(user) and not user.is_suspended


def role_at_least(user: Any, role: Role) -> bool:
    """The user is in good standing and holds `role` or a higher one."""
    return in_good_standing(user) and RANKS[Role(user.role)] >= RANKS[role]


def is_organiser(user: Any) -> bool:
    """Organisers, moderators and admins."""
    return role_at_least(user, Role.ORGANISER)


def can_moderate(user: Any) -> bool:
    """Moderators and admins."""
    return role_at_least(user, Role.MODERATOR)


def can_admin(user: Any) -> bool:
    """Admins only."""
    return role_at_least(user, Role.ADMIN)


def can_participate(user: Any) -> bool:
    """Post, sign, report, start petitions: logged in, confirmed, not suspended or banned."""
    return in_good_standing(user) and user.is_confirmed


def participation_problem(user: Any) -> str | None:
    """Why `can_participate` says no, in words for the user; None when it says yes."""
    if not is_member(user):
        return "Please log in first."
    if user.is_suspended:
        return "Your account is suspended, so you cannot do this for now."
    if not user.is_confirmed:
        return "Please confirm your email address first: we sent you a link."
    return None


# Accounts -------------------------------------------------------------------------------


def can_set_role(actor: Any, target: Any, role: Role) -> bool:
    """Only admins change roles, and not their own."""
    return can_admin(actor) and actor.id != target.id


def can_sanction(actor: Any, target: Any) -> bool:
    """Moderators sanction members and organisers; never admins, never themselves."""
    if not can_moderate(actor) or actor.id == target.id:
        return False
    if can_admin(actor):
        return Role(target.role) != Role.ADMIN
    return RANKS[Role(target.role)] < RANKS[Role.MODERATOR]


def can_edit_public_profile(user: Any) -> bool:
    """Members in good standing change their display name and bio (what others see of them)."""
    return in_good_standing(user)


# Forum ----------------------------------------------------------------------------------


def can_see_hidden(user: Any, item: Any) -> bool:
    """Hidden content is visible to moderators, and (marked as hidden) to its author."""
    if not getattr(item, "is_hidden", False):
        return True
    return can_moderate(user) or (is_member(user) and item.author_id == user.id)


def can_read_post(user: Any, post: Any) -> bool:
    """A post's words, on its page or quoted in another: hidden ones as `can_see_hidden` says,
    deleted ones for moderators only."""
    if getattr(post, "is_deleted", False):
        return can_moderate(user)
    return can_see_hidden(user, post)


def can_start_thread(user: Any, category: Any) -> bool:
    """Participants start threads; categories marked staff-only take them from organisers up."""
    if not can_participate(user):
        return False
    return not getattr(category, "is_staff_only", False) or is_organiser(user)


def can_reply(user: Any, thread: Any) -> bool:
    """Participants reply to open threads; locked threads take replies from moderators only."""
    if not can_participate(user):
        return False
    if thread.is_locked or getattr(thread, "is_hidden", False):
        return can_moderate(user)
    return True


def can_edit_post(user: Any, post: Any) -> bool:
    """Authors edit their own live posts; moderators edit any."""
    if can_moderate(user):
        return True
    return (
        can_participate(user)
        and post.author_id == user.id
        and not post.is_deleted
        and not post.is_hidden
    )


def can_delete_post(user: Any, post: Any) -> bool:
    """Authors delete their own posts; moderators delete any."""
    if can_moderate(user):
        return True
    return in_good_standing(user) and post.author_id == user.id and not post.is_deleted


def can_watch(user: Any, thread: Any) -> bool:
    """Members follow (watch, track, mute, keep their reading position in) threads they see."""
    return is_member(user) and can_see_hidden(user, thread)


def can_bookmark(user: Any, post: Any) -> bool:
    """Members in good standing bookmark the posts they may read."""
    return in_good_standing(user) and can_read_post(user, post)


def can_keep_drafts(user: Any) -> bool:
    """Participants have what they were writing kept on the server."""
    return can_participate(user)


def can_preview(user: Any) -> bool:
    """Participants see their Markdown rendered before they post it."""
    return can_participate(user)


def can_look_up_members(user: Any) -> bool:
    """Participants get usernames suggested as they type a mention."""
    return can_participate(user)


def can_like(user: Any, post: Any) -> bool:
    """Participants like other people's visible posts."""
    return (
        can_participate(user)
        and post.author_id != user.id
        and not post.is_hidden
        and not post.is_deleted
    )


def can_manage_categories(user: Any) -> bool:
    """Admins manage forum categories."""
    return can_admin(user)


# News -----------------------------------------------------------------------------------


def can_write_news(user: Any) -> bool:
    """Organisers and above write and publish news."""
    return is_organiser(user)


def can_edit_news(user: Any, post: Any) -> bool:
    """Organisers and admins edit news posts."""
    return can_write_news(user)


def can_see_news(user: Any, post: Any) -> bool:
    """Published posts are public; drafts and scheduled posts are for organisers."""
    return post.is_published or can_write_news(user)


# Petitions ------------------------------------------------------------------------------


def can_start_petition(user: Any) -> bool:
    """Participants start petitions (members' wait for review)."""
    return can_participate(user)


def opens_petition_at_once(user: Any) -> bool:
    """Organisers' petitions open at once; a member's waits in the moderation queue."""
    return is_organiser(user)


def can_manage_petition(user: Any, petition: Any) -> bool:
    """Organisers and above manage any petition; a creator edits their own while not open."""
    if is_organiser(user):
        return True
    return (
        in_good_standing(user)
        and petition.creator_id == user.id
        and petition.status in ("draft", "pending")
    )


def can_see_petition(user: Any, petition: Any) -> bool:
    """Open, closed and won petitions are public; others are for their creator and staff."""
    if petition.status in ("open", "closed", "won"):
        return True
    return (
        can_moderate(user)
        or is_organiser(user)
        or (is_member(user) and petition.creator_id == user.id)
    )


def can_export_signatures(user: Any, petition: Any) -> bool:
    """Organisers and above export signatures for delivery."""
    return is_organiser(user)


def can_withdraw_signature(user: Any) -> bool:
    """Members in good standing withdraw their own signature (suspended: no changes at all)."""
    return in_good_standing(user)


def can_review_petition(user: Any, petition: Any) -> bool:
    """Moderators approve or reject pending petitions."""
    return can_moderate(user) and petition.status == "pending"


# Moderation -----------------------------------------------------------------------------


def can_report(user: Any, item: Any | None = None) -> bool:
    """Participants report what others wrote (not their own)."""
    if not can_participate(user):
        return False
    author_id = getattr(item, "author_id", None) if item is not None else None
    return author_id is None or author_id != user.id


# Admin console --------------------------------------------------------------------------


def can_use_console(user: Any) -> bool:
    """The admin console (/admin) is for admins only."""
    return can_admin(user)


def can_resend_confirmation(actor: Any, target: Any) -> bool:
    """Admins resend the confirmation link to an account still waiting for it."""
    return (
        can_admin(actor)
        and target.deleted_at is None
        and bool(target.email)
        and (target.email_confirmed_at is None or bool(target.pending_email))
    )


def can_erase_account(actor: Any, target: Any) -> bool:
    """Admins erase another member's account on request; never their own (the settings page
    does that) nor another admin's (demote first), never one already erased."""
    return (
        can_admin(actor)
        and actor.id != target.id
        and Role(target.role) != Role.ADMIN
        and target.deleted_at is None
    )


def can_change_settings(user: Any) -> bool:
    """Admins change the site's settings."""
    return can_admin(user)


def can_resend_mail(user: Any, message: Any) -> bool:
    """Admins send again a message the worker gave up on."""
    return can_admin(user) and message.failed_at is not None and message.sent_at is None


# Appeals --------------------------------------------------------------------------------

APPEALABLE = frozenset({"hide", "auto_hide", "delete", "warn", "suspend", "ban"})


def can_appeal(user: Any, action: Any, existing: Any = None) -> bool:
    """The person a decision was about appeals it, once (suspended accounts too: it is how
    they contest the suspension)."""
    return (
        is_member(user)
        and action.target_user_id == user.id
        and action.action in APPEALABLE
        and existing is None
    )


def can_see_appeal(user: Any, appeal: Any) -> bool:
    """An appeal is seen by the person who made it and by moderators, nobody else."""
    return can_moderate(user) or (is_member(user) and appeal.appellant_id == user.id)


def can_decide_appeal(user: Any, appeal: Any) -> bool:
    """A moderator decides an open appeal, unless they took the decision appealed against
    (or are the one appealing)."""
    return (
        can_moderate(user)
        and appeal.status == "open"
        and appeal.action.moderator_id != user.id
        and appeal.appellant_id != user.id
    )


# New members ----------------------------------------------------------------------------


def must_hold_post(user: Any, approved_posts: int, held_first: int) -> bool:
    """A member's first `held_first` posts wait for a moderator (organisers and up never);
    a post counts once approved, so until then each new one waits too."""
    return (
        held_first > 0
        and is_member(user)
        and not is_organiser(user)
        and approved_posts < held_first
    )


def can_post_links(user: Any, approved_posts: int, links_after: int) -> bool:
    """Links in posts once a member has `links_after` approved posts (organisers and up:
    always)."""
    return links_after <= 0 or is_organiser(user) or approved_posts >= links_after


# Campaign: timeline, delivery, the target's response (issue 18) ---------------------------


def can_run_campaign(user: Any, petition: Any) -> bool:
    """Organisers (and above) in good standing close, reopen, deliver, post responses and
    choose the milestone mail of a public petition."""
    return (
        is_organiser(user)
        and can_manage_petition(user, petition)
        and not getattr(user, "is_suspended", False)
        and petition.status in ("open", "closed", "won")
    )


def can_reopen_petition(user: Any, petition: Any) -> bool:
    """A petition closed by hand (deadline still ahead) can be reopened by its organisers."""
    return (
        can_run_campaign(user, petition)
        and petition.status == "closed"
        and not petition.deadline_passed
    )
