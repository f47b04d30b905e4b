"""``rooms.join`` of ``/sync`` (client-server API "Syncing"; "Lazy-loading room members").

Per joined room: ``timeline`` (newest events, ``limited``, ``prev_batch``); ``state`` = the state
at the START of the timeline (all of it on an initial sync, with ``full_state``, or for a room
joined since ``since``; otherwise only what changed between ``since`` and the timeline's start);
or, with ``use_state_after`` (spec v1.16), ``state_after`` = the state changes up to the END of
the timeline. Plus ``ephemeral``, ``account_data``, ``unread_notifications`` and ``summary``.
Rooms with nothing new since ``since`` are left out. Room versions: all.

Spec "Filtering": the RoomFilter's ``timeline``, ``state``, ``ephemeral`` and ``account_data``
are RoomEventFilters whose ``rooms``/``not_rooms`` each apply to their own section only. A room
the timeline filter leaves out is still listed on an initial sync (empty timeline, its state
as at the timeline's end); on an incremental sync it comes only with something else new
(ephemeral events, account data), its hidden state changes then in ``state``, as for events a
timeline filter hides by type or sender (Synapse does the same).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from transom.core.events import Event, JsonDict, StateKey
from transom.services.filtering import RoomEventFilter
from transom.services.sync.context import Loader, SyncRequest
from transom.services.sync.extras import Extras
from transom.services.sync.summary import room_summary
from transom.services.sync.timeline import Timeline, TimelineQuery, load_timelines
from transom.storage.state import LocalMembership, StateMap


async def build_joined(
    loader: Loader,
    extras: Extras,
    request: SyncRequest,
    memberships: Sequence[LocalMembership],
    room_account_data: Mapping[str, Mapping[str, JsonDict]],
) -> dict[str, JsonDict]:
    since = request.since_stream
    # Per-room values remembered by the sync store hold from here on (see ``summary``).
    epoch = await loader.queries.catch_up()
    newly = await _newly_joined(loader, request, memberships)
    queries = [
        TimelineQuery(
            room_id=m.room_id,
            after=None if since is None or m.room_id in newly else since,
            before=request.now,
            visible_after=m.stream_ordering,
            current_membership="join",
            # An incremental sync never returns backfilled history (see ``timeline``).
            live_only=since is not None,
        )
        for m in memberships
    ]
    timelines = await load_timelines(loader, request, queries)
    room_ids = [m.room_id for m in memberships]
    ephemeral = await _ephemeral(extras, request, room_ids)
    included: list[tuple[str, Timeline, StateMap, list[Event]]] = []
    firsts = [t.events[0] for t in timelines.values() if t.events]
    lasts = [t.last_event_id for t in timelines.values() if t.last_event_id is not None]
    await loader.prefetch_groups(firsts, lasts)
    for m in memberships:
        room_id = m.room_id
        full = since is None or request.full_state or room_id in newly
        timeline = timelines[room_id]
        if not (
            full or timeline.events or ephemeral.get(room_id) or room_account_data.get(room_id)
        ):
            continue
        start_state = await _start_state(loader, request, room_id, timeline)
        state_events = await _room_state(loader, request, room_id, timeline, start_state, full)
        included.append((room_id, timeline, start_state, state_events))
    # Serialise every room's state and timeline in one batch.
    serialized = await loader.serialize_timelines(
        request,
        [(state, {}) for _, _, _, state in included]
        + [(timeline.events, start) for _, timeline, start, _ in included],
    )
    states, serialized_timelines = serialized[: len(included)], serialized[len(included) :]
    counts = await extras.unread_counts_many(request.user_id, [r for r, _, _, _ in included])
    result: dict[str, JsonDict] = {}
    ad_filter = request.filter.room.account_data
    state_key = "state_after" if request.use_state_after else "state"
    for (room_id, timeline, _, _), state, events in zip(
        included, states, serialized_timelines, strict=True
    ):
        for event in state:
            event.get("unsigned", {}).pop("transaction_id", None)
        account_data = room_account_data.get(room_id, {})
        notifications, highlights = counts[room_id]
        result[room_id] = {
            state_key: {"events": state},
            "timeline": {
                "events": events,
                "limited": timeline.limited,
                "prev_batch": timeline.prev_batch or f"s{request.now}_{request.typing_serial}",
            },
            "ephemeral": {"events": ephemeral.get(room_id, [])},
            "account_data": {
                "events": [
                    {"type": t, "content": c}
                    for t, c in account_data.items()
                    if ad_filter.matches({"type": t, "sender": request.user_id, "room_id": room_id})
                ]
            },
            "unread_notifications": {
                "notification_count": notifications,
                "highlight_count": highlights,
            },
            "summary": await room_summary(loader, request.user_id, room_id, epoch),
        }
    return result


async def _newly_joined(
    loader: Loader, request: SyncRequest, memberships: Sequence[LocalMembership]
) -> set[str]:
    """Rooms whose membership changed to join since ``since`` (not a profile change)."""
    since = request.since_stream
    if since is None:
        return set()
    changed = [m for m in memberships if m.stream_ordering > since]
    if not changed:
        return set()
    member_events = await loader.events([m.event_id for m in changed])
    newly: set[str] = set()
    for m in changed:
        event = member_events.get(m.event_id)
        if event is None:
            newly.add(m.room_id)
            continue
        before = await loader.state_before(event)
        prev_id = before.get(("m.room.member", request.user_id))
        prev = (await loader.events([prev_id])).get(prev_id) if prev_id else None
        if prev is None or prev.membership != "join":
            newly.add(m.room_id)
    return newly


async def _ephemeral(
    extras: Extras, request: SyncRequest, room_ids: Sequence[str]
) -> dict[str, list[JsonDict]]:
    eph_filter = request.filter.room.ephemeral
    allowed = [r for r in room_ids if eph_filter.allows_room(r)]
    since = request.since
    typing = extras.typing_events(
        request.user_id,
        request.device_id,
        allowed,
        since.typing if since is not None else None,
        request.typing_serial,
    )
    receipts = await extras.receipt_events(
        request.user_id, allowed, since.stream if since is not None else 0
    )
    result: dict[str, list[JsonDict]] = {}
    for source in (typing, receipts):
        for room_id, event in source.items():
            if eph_filter.matches({**event, "room_id": room_id, "sender": ""}):
                result.setdefault(room_id, []).append(event)
    return result


async def _start_state(
    loader: Loader, request: SyncRequest, room_id: str, timeline: Timeline
) -> StateMap:
    if timeline.events:
        return await loader.state_before(timeline.events[0])
    if timeline.last_event_id is not None:
        return await loader.state_after(timeline.last_event_id)
    return await loader.state_at_stream(room_id, request.now)


async def _room_state(
    loader: Loader,
    request: SyncRequest,
    room_id: str,
    timeline: Timeline,
    start: StateMap,
    full: bool,
) -> list[Event]:
    """The ``state`` (or ``state_after``) events of one joined room, filtered and lazy-loaded."""
    state_filter = request.filter.room.state
    if not state_filter.allows_room(room_id):
        # Spec "Filtering": the ``state`` RoomEventFilter's rooms/not_rooms leave the room's
        # state out (and nothing is lazy-loaded: the device is sent no member event of it).
        if full:
            request.sent_members.pop(room_id, None)
        return []
    since = request.since_stream
    in_timeline = {e.event_id for e in timeline.events}
    if request.use_state_after:
        end = (
            await loader.state_after(timeline.last_event_id)
            if timeline.last_event_id is not None
            else await loader.state_at_stream(room_id, request.now)
        )
        if full or since is None:
            target = end
        else:
            base = await loader.state_at_stream(room_id, since)
            target = {k: v for k, v in end.items() if base.get(k) != v}
        gap_members: set[str] = set()
    else:
        if full or since is None:
            target = start
        elif timeline.limited or _timeline_hides_events(request, room_id):
            base = await loader.state_at_stream(room_id, since)
            wanted = start
            if _timeline_hides_events(request, room_id) and timeline.last_event_id is not None:
                # Events the timeline filter hides still change state: report them here.
                end = await loader.state_after(timeline.last_event_id)
                wanted = {k: v for k, v in end.items() if v not in in_timeline}
            target = {k: v for k, v in wanted.items() if base.get(k) != v}
        else:
            target = {}
        # Spec "Syncing": when limited, membership changes in the gap are always sent.
        gap_members = {k[1] for k in target if k[0] == "m.room.member"} if not full else set()
    if not request.use_state_after:
        # ``state_after`` lists every change up to the timeline's end, those in it included
        # (clients must not apply the timeline's state); ``state`` repeats none of them.
        target = {k: v for k, v in target.items() if v not in in_timeline}
    if request.filter.lazy_load_members:
        target = _lazy_members(request, room_id, target, start, timeline, full, gap_members)
    if not target:
        return []
    events = await loader.events(list(target.values()))
    chosen = sorted((events[v] for v in target.values() if v in events), key=_state_order)
    if state_filter is _NO_FILTER or state_filter == _NO_FILTER:
        return chosen
    return [e for e in chosen if state_filter.matches(e)]


_NO_FILTER = RoomEventFilter()


def _state_order(event: Event) -> tuple[int, str, str]:
    return (0 if event.type == "m.room.create" else 1, event.type, event.state_key or "")


def _timeline_hides_events(request: SyncRequest, room_id: str) -> bool:
    """Whether the timeline filter may leave out events of the room: by type, sender or
    ``contains_url``, or all of them (its rooms/not_rooms exclude the room)."""
    f = request.filter.room.timeline
    return bool(
        f.types is not None or f.not_types or f.senders is not None or f.not_senders
        or f.contains_url is not None or not f.allows_room(room_id)
    )  # fmt: skip


def _lazy_members(
    request: SyncRequest,
    room_id: str,
    target: Mapping[StateKey, str],
    start: Mapping[StateKey, str],
    timeline: Timeline,
    full: bool,
    gap_members: set[str],
) -> dict[StateKey, str]:
    """Spec "Lazy-loading room members": member events only for the senders of timeline
    events (and the syncing user on a full sync), skipping ones this device already has
    unless ``include_redundant_members``; gap changes are always kept."""
    sent = request.sent_members.setdefault(room_id, {}) if not full else {}
    if full:
        request.sent_members[room_id] = sent
    wanted = {e.sender for e in timeline.events}
    if full:
        wanted.add(request.user_id)
    result = {k: v for k, v in target.items() if k[0] != "m.room.member"}
    redundant_ok = request.filter.include_redundant_members
    for user in wanted | gap_members:
        key = ("m.room.member", user)
        event_id = target.get(key) or start.get(key)
        if event_id is None:
            continue
        if user in gap_members or redundant_ok or sent.get(user) != event_id:
            result[key] = event_id
    for key, event_id in result.items():
        if key[0] == "m.room.member":
            sent[key[1]] = event_id
    for event in timeline.events:
        if event.type == "m.room.member" and event.state_key is not None:
            sent[event.state_key] = event.event_id
    return result
