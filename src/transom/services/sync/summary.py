"""``rooms.join.{roomId}.summary`` (client-server API "Syncing": ``m.heroes``,
``m.joined_member_count``, ``m.invited_member_count``), from the room's current state.

Spec: heroes are "the first 5 members of the room, ordered by stream ordering, which are joined
or invited", never the syncing user; "when no joined or invited members are available, this
should consist of the banned and left users". Room versions: all.

What does not depend on the syncing user (the counts, and the first members of each kind) is
derived once per current state and remembered until the room's next event
(``SyncQueries.memo``): the current state only changes when the persister writes an event of
the room, and it updates the cached current state in the same step as the stream position, so
the next ``catch_up`` drops the entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from transom.core.events import JsonDict
from transom.services.sync.context import Loader

MAX_HEROES = 5


@dataclass(frozen=True, slots=True)
class RoomMembers:
    """The room's members as the summary needs them: one more candidate hero of each kind
    than shown, so that leaving out the syncing user still leaves enough."""

    joined_count: int
    invited_count: int
    # Joined or invited members, by stream ordering of their member event.
    present: tuple[str, ...]
    # Left or banned members, likewise.
    gone: tuple[str, ...]

    def summary(self, user_id: str) -> JsonDict:
        heroes = [u for u in self.present if u != user_id]
        if not heroes:
            heroes = [u for u in self.gone if u != user_id]
        return {
            "m.heroes": heroes[:MAX_HEROES],
            "m.joined_member_count": self.joined_count,
            "m.invited_member_count": self.invited_count,
        }


async def room_summary(loader: Loader, user_id: str, room_id: str, epoch: int | None) -> JsonDict:
    """The summary for ``user_id``; ``epoch``: ``SyncQueries.catch_up``'s, read before."""
    members = loader.queries.memo(room_id, "members")
    if not isinstance(members, RoomMembers):
        members = await room_members(loader, room_id)
        loader.queries.remember(room_id, "members", members, epoch)
    return members.summary(user_id)


async def room_members(loader: Loader, room_id: str) -> RoomMembers:
    state = await loader.rooms.state.get_current_state_ids(room_id)
    member_ids = [v for k, v in state.items() if k[0] == "m.room.member"]
    stored = await loader.stored(member_ids)
    members = sorted(
        (s for s in stored.values() if s.rejected_reason is None),
        key=lambda s: s.stream_ordering,
    )
    joined = invited = 0
    present: list[str] = []
    gone: list[str] = []
    for s in members:
        membership, member = s.event.membership, s.event.state_key
        joined += membership == "join"
        invited += membership == "invite"
        if member is None:
            continue
        if membership in ("join", "invite"):
            if len(present) <= MAX_HEROES:
                present.append(member)
        elif membership in ("leave", "ban") and len(gone) <= MAX_HEROES:
            gone.append(member)
    return RoomMembers(joined, invited, tuple(present), tuple(gone))
