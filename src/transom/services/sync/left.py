"""``rooms.leave`` of ``/sync`` (client-server API "Syncing"): rooms the user left, was kicked
or banned from, or whose invite or knock was rejected or withdrawn.

A room the user had joined: the timeline up to and including their leave, with the state at its
start (a delta on incremental syncs). Any other room (a rescinded or rejected knock or invite):
only the final membership event, since such a user sees nothing else of the room. On an
initial sync only with ``include_leave`` in the filter. Room versions: all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from transom.core.events import JsonDict
from transom.services.sync.context import Loader, SyncRequest
from transom.services.sync.timeline import TimelineQuery, load_timelines
from transom.services.sync.tokens import pagination_token
from transom.storage.state import LocalMembership


async def build_left(
    loader: Loader,
    request: SyncRequest,
    memberships: Sequence[LocalMembership],
    room_account_data: Mapping[str, Mapping[str, JsonDict]],
) -> dict[str, JsonDict]:
    member_events = await loader.events([m.event_id for m in memberships])
    was_joined: list[LocalMembership] = []
    result: dict[str, JsonDict] = {}
    room_filter = request.filter.room
    account_data = {
        m.room_id: _account_data(request, m.room_id, room_account_data.get(m.room_id, {}))
        for m in memberships
    }
    for m in memberships:
        event = member_events.get(m.event_id)
        if event is None or m.outofband:
            result[m.room_id] = _room([], [], None, account_data[m.room_id])
            continue
        before = await loader.state_before(event)
        prev_id = before.get(("m.room.member", request.user_id))
        prev = (await loader.events([prev_id])).get(prev_id) if prev_id else None
        if prev is not None and prev.membership == "join":
            was_joined.append(m)
            continue
        if room_filter.timeline.matches(event):
            single = await loader.serialize_timeline(request, [event], before)
            ordering = m.stream_ordering
            result[m.room_id] = _room(
                single, [], pagination_token(event.depth, ordering), account_data[m.room_id]
            )
            continue
        # The timeline filter hides the membership event: it comes as the room's state, as
        # state changes the timeline leaves out do (see ``joined``).
        as_state = [event] if room_filter.state.matches(event) else []
        result[m.room_id] = _room(
            [], await loader.rooms.serialize(as_state), None, account_data[m.room_id]
        )
    queries = [
        TimelineQuery(
            room_id=m.room_id,
            after=request.since_stream,
            before=m.stream_ordering,
            visible_after=None,
            current_membership=m.membership,
        )
        for m in was_joined
    ]
    timelines = await load_timelines(loader, request, queries)
    for m in was_joined:
        timeline = timelines[m.room_id]
        if timeline.events:
            start = await loader.state_before(timeline.events[0])
        else:
            start = await loader.state_after(m.event_id)
        changed = start
        if request.since_stream is not None and not request.full_state:
            base = await loader.state_at_stream(m.room_id, request.since_stream)
            changed = {k: v for k, v in start.items() if base.get(k) != v}
        in_timeline = {e.event_id for e in timeline.events}
        state_filter = room_filter.state
        # Spec "Filtering": the ``state`` RoomEventFilter's rooms/not_rooms apply to the
        # state only, the timeline's to the timeline only (``load_timelines``).
        state_ids = (
            [v for v in changed.values() if v not in in_timeline]
            if state_filter.allows_room(m.room_id)
            else []
        )
        state_events = await loader.events(state_ids) if state_ids else {}
        chosen = [state_events[i] for i in state_ids if i in state_events]
        state = await loader.rooms.serialize([e for e in chosen if state_filter.matches(e)])
        serialized = await loader.serialize_timeline(request, timeline.events, start)
        result[m.room_id] = _room(
            serialized, state, timeline.prev_batch, account_data[m.room_id],
            limited=timeline.limited,
        )  # fmt: skip
    return result


def _account_data(
    request: SyncRequest, room_id: str, data: Mapping[str, JsonDict]
) -> dict[str, JsonDict]:
    """The room's account data the RoomFilter's ``account_data`` RoomEventFilter lets through
    (types and rooms/not_rooms; spec "Filtering"), as for joined rooms."""
    ad_filter = request.filter.room.account_data
    user_id = request.user_id
    return {
        t: c
        for t, c in data.items()
        if ad_filter.matches({"type": t, "sender": user_id, "room_id": room_id})
    }


def _room(
    timeline: list[JsonDict],
    state: list[JsonDict],
    prev_batch: str | None,
    account_data: Mapping[str, JsonDict],
    *,
    limited: bool = False,
) -> JsonDict:
    room: JsonDict = {
        "state": {"events": state},
        "timeline": {"events": timeline, "limited": limited},
        "account_data": {"events": [{"type": t, "content": c} for t, c in account_data.items()]},
    }
    if prev_batch is not None:
        room["timeline"]["prev_batch"] = prev_batch
    return room
