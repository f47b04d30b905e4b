"""Reading a room's history: ``/messages`` pagination and ``/context`` (client-server API
"Getting events for a room", "Room History Visibility", "Lazy-loading room members").

Tokens are shared with sync: ``t{depth}-{stream}`` is the position of an event (pagination from
it excludes it, in either direction) and ``s{stream}`` (sync's ``next_batch``; anything after an
``_`` is ignored) means "the latest as of that stream position". Events are ordered by
``(depth, stream_ordering)``. Every event served passes the history visibility check.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transom.core.events import Event, JsonDict, StateKey
from transom.services.errors import Forbidden, InvalidParam, NotFound
from transom.services.filtering import RoomEventFilter
from transom.services.rooms.visibility import can_see_event, history_visibility
from transom.storage.pagination import PagedEvent, Position

if TYPE_CHECKING:
    from transom.services.rooms.service import RoomService

# Fetches a room's earlier history from another server; True if any was stored.
HistoryFetcher = Callable[[str], Awaitable[bool]]

MAX_LIMIT = 1000
# Backfill requests one /messages page may make before answering with what it has.
MAX_BACKFILLS_PER_PAGE = 3
# Backfilled history has negative stream orderings (see ``transom.storage.persist``).
_TOKEN = re.compile(r"^t(-?\d+)-(-?\d+)$|^s(\d+)(?:_.*)?$")


def parse_token(token: str) -> Position:
    """A pagination token; 400 M_INVALID_PARAM for anything else."""
    match = _TOKEN.match(token)
    if match is None:
        raise InvalidParam(f"Invalid pagination token {token!r}")
    if match.group(3) is not None:
        return Position(None, int(match.group(3)))
    return Position(int(match.group(1)), int(match.group(2)))


def event_token(item: PagedEvent) -> str:
    return f"t{item.depth}-{item.stored.stream_ordering}"


@dataclass
class Page:
    chunk: list[Event]
    start: str
    # None when there is nothing further in this direction.
    end: str | None
    # Where scanning stopped (the last event looked at), even when nothing is further.
    cursor: str


class MessagesService:
    """History reads with visibility applied per event."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms
        # Set by the composition root when federation is wired: backfill from a server in the
        # room when paging backwards runs out of local history.
        self.backfill: HistoryFetcher | None = None

    async def _require_reader(self, user_id: str, room_id: str) -> str | None:
        """The user's current membership; 403 for anyone who never was in the room (knockers
        included) unless it is ``world_readable`` now."""
        if await self.rooms.rooms.get_room_version(room_id) is None:
            raise Forbidden("You are not in this room")
        membership = await self.rooms.membership.membership_of(room_id, user_id)
        if membership in ("join", "invite") or (
            membership in ("leave", "ban")
            and not await self.rooms.state.has_forgotten(user_id, room_id)
        ):
            return membership
        state = await self.rooms._state_events(
            {
                k: v
                for k, v in (await self.rooms.state.get_current_state_ids(room_id)).items()
                if k == ("m.room.history_visibility", "")
            }
        )
        if history_visibility(state) == "world_readable":
            return membership
        raise Forbidden("You are not in this room")

    async def visible(
        self,
        user_id: str,
        items: Sequence[PagedEvent],
        membership: str | None,
        last_join: int | None,
    ) -> set[str]:
        """IDs of those events the user may see ("Room History Visibility"); ``last_join`` is
        the stream position of the user's latest join, for ``shared`` rooms they have left."""
        groups = await self.rooms.state.get_state_groups([i.stored.event.event_id for i in items])
        keys = {("m.room.history_visibility", ""), ("m.room.member", user_id)}
        result: set[str] = set()
        cache: dict[int, dict[StateKey, Event]] = {}
        for item in items:
            event = item.stored.event
            joined_after = last_join is not None and last_join > item.stored.stream_ordering
            group = groups.get(event.event_id)
            if group is None:
                continue
            if group not in cache:
                ids = await self.rooms.state.get_group_state(group)
                cache[group] = await self.rooms._state_events(
                    {k: v for k, v in ids.items() if k in keys}
                )
            if can_see_event(event, cache[group], user_id, membership, joined_after=joined_after):
                result.add(event.event_id)
        return result

    async def paginate(
        self,
        user_id: str,
        room_id: str,
        *,
        from_token: str | None,
        to_token: str | None,
        backwards: bool,
        limit: int,
        event_filter: RoomEventFilter,
    ) -> Page:
        """One page of ``/messages``; ``end`` is None when there is nothing further."""
        start = parse_token(from_token) if from_token is not None else None
        end = parse_token(to_token) if to_token is not None else None
        membership = await self._require_reader(user_id, room_id)
        last_join = None
        if membership in ("leave", "ban"):
            last_join = await self.rooms.pages.last_join_stream(room_id, user_id)
        if start is None:
            # v1.3+: no ``from`` means from the latest (backwards) or the earliest (forwards).
            start_token = f"s{self.rooms.streams.current}" if backwards else "t-1-0"
        else:
            start_token = from_token or ""
        chunk: list[Event] = []
        cursor = start
        last: PagedEvent | None = None
        # "Filtering" (RoomEventFilter ``rooms``/``not_rooms``, ``types: []``): a filter that
        # leaves out this room or every event type matches nothing here; there is no history
        # to scan (or backfill) for it.
        exhausted = (
            limit == 0 or event_filter.matches_nothing or not event_filter.allows_room(room_id)
        )
        backfills = 0
        while not exhausted and len(chunk) < limit:
            want = max(limit - len(chunk), 10) + 1
            batch = await self.rooms.pages.page(
                room_id, start=cursor, end=end, backwards=backwards, limit=want
            )
            visible = await self.visible(user_id, batch, membership, last_join)
            full = False
            for item in batch:
                if len(chunk) == limit:
                    full = True
                    break
                last = item
                cursor = Position(item.depth, item.stored.stream_ordering)
                event = item.stored.event
                if event.event_id in visible and event_filter.matches(event):
                    chunk.append(event)
            if not full and len(batch) < want:
                # Server-server API "Backfilling and retrieving missing events": the local
                # history ends here; another server may hold what came before.
                if backwards and end is None and self.backfill is not None:
                    if backfills == MAX_BACKFILLS_PER_PAGE:
                        break  # more may be there: ``end`` lets the client ask again
                    backfills += 1
                    if await self.backfill(room_id):
                        continue
                exhausted = True
                break
        cursor_token = event_token(last) if last is not None else start_token
        return Page(chunk, start_token, None if exhausted else cursor_token, cursor_token)

    async def lazy_members(
        self, room_id: str, events: Iterable[Event], at: Event | None
    ) -> list[Event]:
        """ "Lazy-loading room members": the member events of the senders of ``events``, as of
        the state after ``at`` (the current state when None)."""
        senders = {e.sender for e in events}
        if at is not None:
            state_ids = await self.rooms.state.get_state_after(at.event_id) or {}
        else:
            state_ids = await self.rooms.state.get_current_state_ids(room_id)
        wanted = {k: v for k, v in state_ids.items() if k[0] == "m.room.member" and k[1] in senders}
        return list((await self.rooms._state_events(wanted)).values())

    async def context(
        self,
        user_id: str,
        room_id: str,
        event_id: str,
        *,
        limit: int,
        event_filter: RoomEventFilter,
    ) -> JsonDict:
        """``/context/{eventId}``: the event, up to ``limit`` events around it (split between
        before and after), and the state at the last event returned; 404 if not visible. The
        filter applies to the events around it and to the state, never to the event itself
        (OpenAPI ``event_context.yaml``, ``filter``)."""
        event = await self.rooms.visible_event(user_id, room_id, event_id)
        position = await self.rooms.pages.depth_of(event_id)
        if position is None:
            raise NotFound("Event not found")
        token = f"t{position[0]}-{position[1]}"
        before_limit = limit // 2
        after_limit = limit - before_limit
        before = await self.paginate(
            user_id, room_id, from_token=token, to_token=None, backwards=True,
            limit=before_limit, event_filter=event_filter,
        )  # fmt: skip
        after = await self.paginate(
            user_id, room_id, from_token=token, to_token=None, backwards=False,
            limit=after_limit, event_filter=event_filter,
        )  # fmt: skip
        last = after.chunk[-1] if after.chunk else event
        if event_filter.lazy_load_members:
            state = await self.lazy_members(room_id, [event, *before.chunk, *after.chunk], last)
        else:
            state_ids = await self.rooms.state.get_state_after(last.event_id) or {}
            state = list((await self.rooms._state_events(state_ids)).values())
        state = [e for e in state if event_filter.matches(e)]
        return {
            "event": event,
            "events_before": before.chunk,
            "events_after": after.chunk,
            "state": state,
            "start": before.cursor,
            "end": after.cursor,
        }


def clamp_limit(raw: Any, default: int) -> int:
    """A ``limit`` query parameter: default when absent, 400 when not a non-negative integer,
    capped at ``MAX_LIMIT``."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParam("limit must be an integer") from None
    if value < 0:
        raise InvalidParam("limit must not be negative")
    return min(value, MAX_LIMIT)
