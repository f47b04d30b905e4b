"""``check_auth``: the authorization rules of room versions 1–12, in the spec's order.

Spec: room versions' "Authorization rules" (`content/rooms/v1.md` … `v12.md`, fragments
`v1-auth-rules`, `v3-auth-rules`, `v8-auth-rules`); server-server API "Checks performed on
receipt of a PDU" and "Authorisation rules". The rules about the event's own ``auth_events`` list
are in ``cited``; the create, membership and power levels rule families in their own modules.

"Events must be signed by the server denoted by the sender property": signatures are verified by
the PDU receipt pipeline (step 2) before any auth check, so they are not re-checked here.
"""

from __future__ import annotations

from transom.core.errors import AuthFailure
from transom.core.events import Event

from .context import AuthEvents, create_event, domain_of, fail, membership_of
from .create import check_create
from .membership import check_member
from .numbering import has_redaction_rule
from .power_levels import get_event_level, get_required_level, get_user_power_level
from .power_levels_rules import check_power_levels


def check_auth(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    """Authorise ``event`` against the state ``auth_events``; None means allowed.

    ``auth_events`` holds the create event at ``("m.room.create", "")`` whenever one exists (in
    v12 too, where it is implied by the room ID rather than cited).
    """
    rv = event.room_version
    # Checks performed on receipt of a PDU, step 1 (event format): content is a JSON object.
    if not isinstance(event.pdu.get("content"), dict):
        return AuthFailure(rule="format", reason="content is not an object")
    # Rule 1 (all versions): m.room.create.
    if event.type == "m.room.create":
        return check_create(event)
    create = create_event(auth_events)
    if rv.room_id_is_create_hash:
        # v12 rule 2: room_id is the create event's ID with `!` instead of `$`.
        if create is None or event.room_id != "!" + create.event_id[1:]:
            return fail(rv, ("room_id",), "room_id is not the ID of the room's create event")
    else:
        # v1–v11 rule 2.4: no m.room.create event, reject (here: among the state given).
        if create is None:
            return fail(rv, ("auth_events", "has_create"), "no m.room.create event")
        # v1–v11 rule 2.5: the create event's room_id must be the event's room_id.
        if create.room_id != event.room_id:
            return fail(rv, ("auth_events", "room_id"), "create event from another room")
    # v12 rule 4, v1–v11 rule 3: m.federate false keeps out senders of other servers.
    if create.content.get("m.federate") is False and domain_of(event.sender) != domain_of(
        create.sender
    ):
        return fail(rv, ("federate",), "the room is not federated")
    # v1–v5 rule 4 (special_case_aliases_auth): m.room.aliases.
    if rv.special_case_aliases_auth and event.type == "m.room.aliases":
        if event.state_key is None:
            return fail(rv, ("aliases", 1), "m.room.aliases without state_key")
        if event.state_key != domain_of(event.sender):
            return fail(rv, ("aliases", 2), "sender's domain does not match state_key")
        return None
    # v12 rule 5, v6–v11 rule 4, v1–v5 rule 5: m.room.member.
    if event.type == "m.room.member":
        return check_member(event, auth_events)
    return _check_sender_and_levels(event, auth_events)


def _check_sender_and_levels(event: Event, auth_events: AuthEvents) -> AuthFailure | None:
    rv = event.room_version
    sender = event.sender
    # v12 rule 6, v6–v11 rule 5, v1–v5 rule 6: the sender must be joined.
    if membership_of(sender, auth_events) != "join":
        return fail(rv, ("sender_joined",), "the sender is not joined to the room")
    sender_level = get_user_power_level(sender, auth_events)
    # v12 rule 7, v6–v11 rule 6, v1–v5 rule 7: m.room.third_party_invite needs the invite level.
    if event.type == "m.room.third_party_invite":
        if sender_level >= get_required_level(auth_events, "invite"):
            return None
        return fail(rv, ("third_party_invite", 1), "the sender is below the invite level")
    # v12 rule 8, v6–v11 rule 7, v1–v5 rule 8: the event type's required power level.
    if get_event_level(auth_events, event.type, event.is_state) > sender_level:
        return fail(rv, ("required_level",), f"not enough power to send {event.type}")
    # v12 rule 9, v6–v11 rule 8, v1–v5 rule 9: a state_key starting with `@` must be the sender.
    state_key = event.state_key
    if state_key is not None and state_key.startswith("@") and state_key != sender:
        return fail(rv, ("user_state_key",), "state_key names another user")
    # v12 rule 10, v6–v11 rule 9, v1–v5 rule 10: m.room.power_levels.
    if event.type == "m.room.power_levels":
        return check_power_levels(event, auth_events)
    # v1–v2 rule 11: m.room.redaction.
    if has_redaction_rule(rv) and event.type == "m.room.redaction":
        # v1–v2 rule 11.1: the redact level, allow.
        if sender_level >= get_required_level(auth_events, "redact"):
            return None
        # v1–v2 rule 11.2: redacting an event whose ID has the redaction's domain, allow.
        redacts = event.redacts
        if redacts is not None and domain_of(redacts) == domain_of(event.event_id):
            return None
        # v1–v2 rule 11.3: otherwise, reject.
        return fail(rv, ("redaction", 3), "not enough power to redact that event")
    # v12 rule 11, v6–v11 rule 10, v3–v5 rule 11, v1–v2 rule 12: otherwise, allow.
    return None
