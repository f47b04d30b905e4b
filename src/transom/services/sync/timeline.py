"""Timelines for ``/sync`` (client-server API "Syncing": ``timeline`` with ``events``,
``limited`` and ``prev_batch``): the newest visible events of each room, for many rooms at once.

Backfilled history (negative stream positions, ``transom.storage.persist``) is older than
anything a client has seen. A timeline "from the start of the room" (initial sync) includes it
like any other event. A room newly joined in an incremental sync never shows it (an incremental
sync returns only what was persisted after ``since``), but its timeline is then ``limited``:
spec "Syncing": ``limited`` is "True if the number of events returned was limited", and
``prev_batch`` lets the client page back to those events with ``/messages``.

A room the timeline filter's ``rooms``/``not_rooms`` leave out (spec "Filtering",
RoomEventFilter) gets an empty, unlimited timeline without its events being loaded.

Room versions: all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from transom.core.events import Event
from transom.services.filtering import RoomEventFilter
from transom.services.sync.context import Loader, SyncRequest
from transom.services.sync.tokens import pagination_token
from transom.storage.sync import LIVE_AFTER


@dataclass
class Timeline:
    events: list[Event] = field(default_factory=list)
    limited: bool = False
    prev_batch: str | None = None
    # The newest event of the window before filtering: the timeline's end position.
    last_event_id: str | None = None


@dataclass(slots=True)
class TimelineQuery:
    room_id: str
    after: int | None  # exclusive lower bound; None for "from the start of the room"
    before: int  # inclusive upper bound
    # Events above this stream position are visible without a history visibility check
    # (the user was joined throughout); None checks every event.
    visible_after: int | None
    current_membership: str | None
    # Leave out backfilled history (with ``after`` None): ``limited`` tells the client of it.
    live_only: bool = False


async def load_timelines(
    loader: Loader, request: SyncRequest, queries: Sequence[TimelineQuery]
) -> dict[str, Timeline]:
    """The timeline of each queried room, newest ``limit`` events in chronological order."""
    room_filter = request.filter.room
    limit = room_filter.timeline_limit
    tl_filter = room_filter.timeline
    by_window: dict[tuple[int | None, int], list[str]] = {}
    for q in queries:
        by_window.setdefault((q.after, q.before), []).append(q.room_id)
    ids: dict[str, list[tuple[int, str]]] = {}
    for (after, before), room_ids in by_window.items():
        ids.update(
            await loader.queries.recent_event_ids(
                room_ids, after=after, before=before, limit=limit + 1
            )
        )
    # Spec "Filtering", RoomEventFilter.rooms/not_rooms ("A list of room IDs to
    # include/exclude") of the RoomFilter's ``timeline``: a room it leaves out keeps an empty
    # timeline; its newest event still marks where the timeline ends (the room's state is taken
    # there, as for a timeline whose events the filter all hides). Its events are not loaded.
    shown = {q.room_id for q in queries if tl_filter.allows_room(q.room_id)}
    stored = await loader.stored(
        [eid for room_id, rows in ids.items() if room_id in shown for _, eid in rows]
    )
    filtering = _filters_events(tl_filter)
    # First every room's newest events, then history visibility for all rooms at once.
    chosen: list[tuple[TimelineQuery, Timeline, list[Event], dict[str, int]]] = []
    to_check: dict[str | None, list[Event]] = {}
    for q in queries:
        rows = ids.get(q.room_id, [])
        hidden = False
        if q.live_only:
            live = [r for r in rows if r[0] > LIVE_AFTER]
            hidden, rows = len(live) < len(rows), live
        if q.room_id not in shown:
            chosen.append((q, Timeline(last_event_id=rows[0][1] if rows else None), [], {}))
            continue
        raw = [stored[eid] for _, eid in rows if eid in stored]
        timeline = Timeline(last_event_id=raw[0].event.event_id if raw else None)
        events = [s.event for s in raw]
        timeline.limited = len(events) > limit or hidden
        if filtering and len(raw) > limit:
            events, timeline.limited = await _page_filtered(loader, q, tl_filter, limit)
        if filtering:
            events = [e for e in events if tl_filter.matches(e)]
        events = events[:limit]
        orderings = {s.event.event_id: s.stream_ordering for s in raw}
        if q.visible_after is None:
            check = events
        else:
            bound = q.visible_after
            check = [e for e in events if orderings.get(e.event_id, -1) < bound]
        if check:
            to_check.setdefault(q.current_membership, []).extend(check)
        chosen.append((q, timeline, events, orderings))
    checked: set[str] = set()
    allowed: set[str] = set()
    for membership, check in to_check.items():
        checked.update(e.event_id for e in check)
        visible = await loader.visible(request.user_id, check, membership)
        allowed.update(e.event_id for e in visible)
    result: dict[str, Timeline] = {}
    for q, timeline, events, orderings in chosen:
        if checked:
            events = [e for e in events if e.event_id not in checked or e.event_id in allowed]
        events.reverse()
        timeline.events = events
        if events:
            first = events[0]
            ordering = orderings.get(first.event_id)
            if ordering is None:
                ordering = await loader.rooms.events.get_stream_ordering(first.event_id) or 0
            timeline.prev_batch = pagination_token(first.depth, ordering)
        result[q.room_id] = timeline
    return result


def _filters_events(f: RoomEventFilter) -> bool:
    return bool(
        f.types is not None or f.not_types or f.senders is not None or f.not_senders
        or f.contains_url is not None
    )  # fmt: skip


async def _page_filtered(
    loader: Loader, q: TimelineQuery, f: RoomEventFilter, limit: int
) -> tuple[list[Event], bool]:
    """With a filtering timeline filter, page further back until ``limit`` events match."""
    matched: list[Event] = []
    before = q.before
    page_size = max(50, limit * 4)
    for _ in range(20):
        found = await loader.queries.recent_event_ids(
            [q.room_id], after=q.after, before=before, limit=page_size
        )
        rows = found.get(q.room_id, [])
        live = [r for r in rows if r[0] > LIVE_AFTER] if q.live_only else rows
        page = await loader.stored([eid for _, eid in live])
        matched.extend(page[e].event for _, e in live if e in page and f.matches(page[e].event))
        if len(live) < len(rows):
            # Backfilled history reached: left out, and the timeline is limited.
            return matched, True
        if len(matched) > limit or len(rows) < page_size:
            return matched, len(matched) > limit
        before = rows[-1][0] - 1
    return matched, True
