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
    for m in memberships:
        event = member_events.get(m.event_id)
        if event is None or m.outofband:
            result[m.room_id] = _room([], [], None, room_account_data.get(m.room_id, {}))
            continue
        before = await loader.state_before(event)
        prev_id = before.get(("m.room.member", request.user_id))
        prev = (await loader.events([prev_id])).get(prev_id) if prev_id else None
        if prev is not None and prev.membership == "join":
            was_joined.append(m)
            continue
        single = await loader.serialize_timeline(request, [event], before)
        ordering = m.stream_ordering
        result[m.room_id] = _room(
            single, [], pagination_token(event.depth, ordering),
            room_account_data.get(m.room_id, {}),
        )  # fmt: skip
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
        state_ids = [v for v in changed.values() if v not in in_timeline]
        state_events = await loader.events(state_ids)
        state_filter = request.filter.room.state
        chosen = [state_events[i] for i in state_ids if i in state_events]
        state = await loader.rooms.serialize([e for e in chosen if state_filter.matches(e)])
        serialized = await loader.serialize_timeline(request, timeline.events, start)
        result[m.room_id] = _room(
            serialized, state, timeline.prev_batch, room_account_data.get(m.room_id, {}),
            limited=timeline.limited,
        )  # fmt: skip
    return result


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
