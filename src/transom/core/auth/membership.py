"""Authorization rules for ``m.room.member`` events (spec: room versions' "Authorization rules",
v1–v5 rule 5, v6–v11 rule 4, v12 rule 5; knocking added in v7 (rule 4.7 from v8),
``restricted`` joins in v8, ``knock_restricted`` in v10, the creator as the create event's sender
in v11).

Rule paths such as ``("member", "join", "banned")`` are turned into each version's own numbers by
``numbering.rule_number``; the comments quote the v12 number and the versions the rule applies to.
"""

from __future__ import annotations

from transom.core.errors import AuthFailure
from transom.core.events import Event

from .context import (
    AuthEvents,
    create_event,
    fail,
    is_signed_by_server_of,
    join_rule,
    membership_of,
)
from .power_levels import get_required_level, get_user_power_level
from .third_party_invite import check_third_party_invite

AUTHORISER_KEY = "join_authorised_via_users_server"


def check_member(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    """The membership rules; None means allowed."""
    rv = event.room_version
    # v12 rule 5.1 (v1–v5 5.1, v6–v11 4.1): no state_key or no content.membership, reject.
    if event.state_key is None or "membership" not in event.content:
        return fail(rv, ("member", "fields"), "member event without state_key or membership")
    # v12 rule 5.2.1 (v8–v11 4.2.1): if content has join_authorised_via_users_server, the event
    # must be signed by that user's homeserver.
    if rv.restricted_join and AUTHORISER_KEY in event.content:
        authoriser = event.content[AUTHORISER_KEY]
        if not isinstance(authoriser, str) or not is_signed_by_server_of(event, authoriser):
            return fail(
                rv,
                ("member", "authoriser_signed", 1),
                "not signed by the server of join_authorised_via_users_server",
            )
    membership = event.content["membership"]
    if membership == "join":
        return _check_join(event, auth_events)
    if membership == "invite":
        return _check_invite(event, auth_events)
    if membership == "leave":
        return _check_leave(event, auth_events)
    if membership == "ban":
        return _check_ban(event, auth_events)
    if membership == "knock" and rv.knocking:
        return _check_knock(event, auth_events)
    # v12 rule 5.8 (v8–v11 4.8, v7 4.7, v6 4.6, v1–v5 5.6): unknown membership, reject. Before
    # v7, `knock` is an unknown membership.
    return fail(rv, ("member", "unknown"), f"unknown membership {membership!r}")


def _first_creator(create: Event) -> str | None:
    """v1–v10: ``content.creator``; v11+: the create event's ``sender``."""
    if create.room_version.implicit_room_creator:
        return create.sender
    creator = create.content.get("creator")
    return creator if isinstance(creator, str) else None


def _check_join(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    rv = event.room_version
    sender = event.sender
    # v12 rule 5.3.1 (all versions): the only previous event is the create event and the
    # state_key is the creator (v11+: the create event's sender): allow.
    create = create_event(auth_events)
    if (
        create is not None
        and event.prev_event_ids == [create.event_id]
        and event.state_key == _first_creator(create)
    ):
        return None
    # v12 rule 5.3.2 (all versions): sender must match state_key.
    if sender != event.state_key:
        return fail(rv, ("member", "join", "sender_is_target"), "cannot join on behalf of others")
    current = membership_of(sender, auth_events)
    # v12 rule 5.3.3 (all versions): if the sender is banned, reject.
    if current == "ban":
        return fail(rv, ("member", "join", "banned"), "the sender is banned")
    rule = join_rule(auth_events)
    # v12 rule 5.3.4 (v1–v6: invite only; v7+: invite or knock): allow if invited or joined.
    if rule == "invite" or (rv.knocking and rule == "knock"):
        if current in ("invite", "join"):
            return None
        return fail(
            rv,
            ("member", "join", "otherwise"),
            f"join rule is {rule} and the sender is neither invited nor joined",
        )
    # v12 rule 5.3.5 (v8–v9: restricted; v10+: restricted or knock_restricted).
    if rv.restricted_join and (
        rule == "restricted" or (rv.knock_restricted and rule == "knock_restricted")
    ):
        return _check_restricted_join(event, auth_events, current)
    # v12 rule 5.3.6 (all versions): if the join rule is public, allow.
    if rule == "public":
        return None
    # v12 rule 5.3.7 (all versions): otherwise, reject.
    return fail(rv, ("member", "join", "otherwise"), f"cannot join with join rule {rule!r}")


def _check_restricted_join(
    event: Event, auth_events: AuthEvents, current: str | None
) -> AuthFailure | None:
    rv = event.room_version
    # v12 rule 5.3.5.1 (v8+): already joined or invited, allow.
    if current in ("join", "invite"):
        return None
    # v12 rule 5.3.5.2 (v8+): the authorising user must be joined and able to invite.
    authoriser = event.content.get(AUTHORISER_KEY)
    if (
        not isinstance(authoriser, str)
        or membership_of(authoriser, auth_events) != "join"
        or get_user_power_level(authoriser, auth_events) < get_required_level(auth_events, "invite")
    ):
        return fail(
            rv,
            ("member", "join", "restricted", 2),
            "join_authorised_via_users_server is not a joined member able to invite",
        )
    # v12 rule 5.3.5.3 (v8+): otherwise, allow.
    return None


def _check_invite(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    rv = event.room_version
    # v12 rule 5.4.1 (all versions): third-party invites.
    if "third_party_invite" in event.content:
        return check_third_party_invite(event, auth_events)
    # v12 rule 5.4.2 (all versions): the sender must be joined.
    if membership_of(event.sender, auth_events) != "join":
        return fail(rv, ("member", "invite", 2), "the sender is not joined")
    # v12 rule 5.4.3 (all versions): the target must not be joined or banned.
    target = membership_of(event.state_key or "", auth_events)
    if target in ("join", "ban"):
        return fail(rv, ("member", "invite", 3), f"the target's membership is {target}")
    # v12 rule 5.4.4 (all versions): allow if the sender has the invite level.
    if get_user_power_level(event.sender, auth_events) >= get_required_level(auth_events, "invite"):
        return None
    # v12 rule 5.4.5: otherwise, reject.
    return fail(rv, ("member", "invite", 5), "the sender is below the invite level")


def _check_leave(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    rv = event.room_version
    sender = event.sender
    target_id = event.state_key or ""
    # v12 rule 5.5.1 (v1–v6: invite or join; v7+: also knock): leaving by oneself.
    if sender == target_id:
        allowed = {"invite", "join", "knock"} if rv.knocking else {"invite", "join"}
        if membership_of(sender, auth_events) in allowed:
            return None
        return fail(rv, ("member", "leave", 1), "cannot leave without being in the room")
    # v12 rule 5.5.2 (all versions): the sender must be joined.
    if membership_of(sender, auth_events) != "join":
        return fail(rv, ("member", "leave", 2), "the sender is not joined")
    sender_level = get_user_power_level(sender, auth_events)
    # v12 rule 5.5.3 (all versions): unbanning needs the ban level.
    if membership_of(target_id, auth_events) == "ban" and sender_level < get_required_level(
        auth_events, "ban"
    ):
        return fail(rv, ("member", "leave", 3), "unbanning needs the ban level")
    # v12 rule 5.5.4 (all versions): the kick level and a level above the target's, allow.
    if (
        sender_level >= get_required_level(auth_events, "kick")
        and get_user_power_level(target_id, auth_events) < sender_level
    ):
        return None
    # v12 rule 5.5.5 (all versions): otherwise, reject.
    return fail(rv, ("member", "leave", 5), "the sender may not kick the target")


def _check_ban(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    rv = event.room_version
    # v12 rule 5.6.1 (all versions): the sender must be joined.
    if membership_of(event.sender, auth_events) != "join":
        return fail(rv, ("member", "ban", 1), "the sender is not joined")
    # v12 rule 5.6.2 (all versions): the ban level and a level above the target's, allow.
    sender_level = get_user_power_level(event.sender, auth_events)
    if sender_level >= get_required_level(auth_events, "ban") and (
        get_user_power_level(event.state_key or "", auth_events) < sender_level
    ):
        return None
    # v12 rule 5.6.3 (all versions): otherwise, reject.
    return fail(rv, ("member", "ban", 3), "the sender may not ban the target")


def _check_knock(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    rv = event.room_version
    # v12 rule 5.7.1 (v7–v9: knock; v10+: knock or knock_restricted).
    rule = join_rule(auth_events)
    if rule not in rv.knock_join_rules:
        return fail(rv, ("member", "knock", 1), f"cannot knock with join rule {rule!r}")
    # v12 rule 5.7.2 (v7+): the sender must match the state_key.
    if event.sender != event.state_key:
        return fail(rv, ("member", "knock", 2), "cannot knock on behalf of others")
    # v12 rule 5.7.3 (v7+): allow unless banned, invited or joined.
    current = membership_of(event.sender, auth_events)
    if current not in ("ban", "invite", "join"):
        return None
    # v12 rule 5.7.4 (v7+): otherwise, reject.
    return fail(rv, ("member", "knock", 4), f"cannot knock while membership is {current}")
