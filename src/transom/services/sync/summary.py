"""``rooms.join.{roomId}.summary`` (client-server API "Syncing": ``m.heroes``,
``m.joined_member_count``, ``m.invited_member_count``), from the room's current state.

Spec: heroes are "the first 5 members of the room, ordered by stream ordering, which are joined
or invited", never the syncing user; "when no joined or invited members are available, this
should consist of the banned and left users". Room versions: all.
"""

from __future__ import annotations

from transom.core.events import JsonDict
from transom.services.sync.context import Loader

MAX_HEROES = 5


async def room_summary(loader: Loader, user_id: str, room_id: str) -> JsonDict:
    state = await loader.rooms.state.get_current_state_ids(room_id)
    member_ids = [v for k, v in state.items() if k[0] == "m.room.member"]
    stored = await loader.stored(member_ids)
    members = sorted(
        (s for s in stored.values() if s.rejected_reason is None),
        key=lambda s: s.stream_ordering,
    )
    joined = [s.event.state_key for s in members if s.event.membership == "join"]
    invited = [s.event.state_key for s in members if s.event.membership == "invite"]
    heroes = [
        s.event.state_key
        for s in members
        if s.event.membership in ("join", "invite") and s.event.state_key != user_id
    ]
    if not heroes:
        heroes = [
            s.event.state_key
            for s in members
            if s.event.membership in ("leave", "ban") and s.event.state_key != user_id
        ]
    return {
        "m.heroes": [h for h in heroes if h is not None][:MAX_HEROES],
        "m.joined_member_count": len(joined),
        "m.invited_member_count": len(invited),
    }
