"""``rooms.invite`` and ``rooms.knock`` of ``/sync`` (client-server API "Syncing", "Stripped
state", "Knocking on rooms").

``invite_state.events`` / ``knock_state.events``: the stripped state of the room at the
invite or knock (``m.room.create`` included, spec v1.16 / MSC4311; plus the server's
``stripped_state_extra_types``), followed by the user's own member event in stripped form.
A knocker, or an invitee, sees nothing else of the room. Out-of-band memberships (remote
invites and knocks) use the stripped state stored with them. Room versions: all for invites;
knocks exist in room versions 7+.
"""

from __future__ import annotations

from collections.abc import Sequence

from transom.core.events import JsonDict
from transom.core.stripped import strip_event, stripped_state
from transom.services.sync.context import Loader
from transom.storage.state import LocalMembership


async def build_stripped(
    loader: Loader, memberships: Sequence[LocalMembership], extra_types: Sequence[str]
) -> dict[str, list[JsonDict]]:
    """room ID -> the stripped state events for each invite or knock membership."""
    member_events = await loader.events([m.event_id for m in memberships])
    result: dict[str, list[JsonDict]] = {}
    for m in memberships:
        member = member_events.get(m.event_id)
        if m.outofband or member is None:
            events = [dict(e) for e in (m.stripped_state or []) if isinstance(e, dict)]
            events = [_four_keys(e) for e in events]
            if member is not None and not any(
                e.get("type") == "m.room.member" and e.get("state_key") == m.user_id for e in events
            ):
                events.append(strip_event(member))
            result[m.room_id] = events
            continue
        state_ids = await loader.state_after(member.event_id)
        state_ids.pop(("m.room.member", m.user_id), None)
        state_events = await loader.events(list(state_ids.values()))
        state = {k: state_events[v] for k, v in state_ids.items() if v in state_events}
        result[m.room_id] = [*stripped_state(state, extra_types), strip_event(member)]
    return result


def _four_keys(event: JsonDict) -> JsonDict:
    """Spec "Stripped state": only ``type``, ``state_key``, ``sender`` and ``content``."""
    return {k: event[k] for k in ("type", "state_key", "sender", "content") if k in event}
