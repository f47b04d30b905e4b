"""The local event pipeline: build, authorise and persist events this server creates.

Spec: server-server API "PDUs" (prev_events, auth_events, depth), "Auth events selection";
room versions' authorization rules. Every event goes through ``transom.core.pdu.build_event``
(hashes, signature, event ID) and ``transom.core.auth.check_auth`` against the room's current
state before it is stored; a rejected request leaves nothing behind.

Invariant: writes to one room are serialised by ``RoomLocks``; different rooms run in parallel.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from transom.core.auth import auth_types_for_event, check_auth
from transom.core.errors import InvalidEvent
from transom.core.events import Event, JsonDict, StateKey
from transom.core.pdu import build_event
from transom.core.room_versions import EventIdFormat, RoomVersion
from transom.services.clock import Clock
from transom.services.errors import BadJson, Forbidden, NotFound
from transom.services.rooms.locks import RoomLocks
from transom.storage.events import EventStore
from transom.storage.persist import EventPersister, PersistEntry
from transom.storage.push import PushAction
from transom.storage.rooms import RoomStore
from transom.storage.state import StateMap, StateStore

logger = logging.getLogger(__name__)

# The most prev_events a new event cites (server-server API: servers SHOULD bound this).
MAX_PREV_EVENTS = 10
MAX_DEPTH = 2**63 - 1

NewEventsListener = Callable[[Sequence[Event]], Awaitable[None]]


class PushEvaluator(Protocol):
    """Computes a new event's notifying push actions before it is persisted."""

    async def actions_before_persist(self, event: Event) -> list[PushAction] | None: ...

    def forget_unpersisted(self, event: Event) -> None: ...


@dataclass
class RoomContext:
    """What building the next event of a room needs, loaded under the room's lock."""

    room_id: str
    room_version: RoomVersion
    state: StateMap
    prev_events: list[Event]
    base_group: int | None
    events: dict[str, Event] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event to create: everything the sender decides."""

    sender: str
    event_type: str
    content: JsonDict
    state_key: str | None = None
    redacts: str | None = None


class EventCreator:
    """Creates events in rooms this server is in."""

    def __init__(
        self,
        *,
        server_name: str,
        signing_key: Any,
        clock: Clock,
        rooms: RoomStore,
        events: EventStore,
        state: StateStore,
        persister: EventPersister,
        locks: RoomLocks,
    ) -> None:
        self.server_name = server_name
        self.signing_key = signing_key
        self.clock = clock
        self.rooms = rooms
        self.events = events
        self.state = state
        self.persister = persister
        self.locks = locks
        self.listeners: list[NewEventsListener] = []
        # Push actions written in the event's own transaction (one commit per message).
        self.push: PushEvaluator | None = None

    async def send(
        self, room_id: str, draft: EventDraft, *, txn: tuple[str, str, str] | None = None
    ) -> Event:
        """Create one event in a room; with ``txn`` (user, device, txn ID) it is idempotent."""
        if txn is not None:
            existing = await self._txn_event(txn)
            if existing is not None:
                return existing
        async with self.locks.lock(room_id):
            if txn is not None:
                existing = await self._txn_event(txn)
                if existing is not None:
                    return existing
            context = await self.load_context(room_id)
            event = await self.build_and_authorise(context, draft)
            actions = await self.push.actions_before_persist(event) if self.push else None
            try:
                await self.persister.persist(
                    [
                        PersistEntry(
                            event=event,
                            state_after=_state_after(context.state, event),
                            base_group=context.base_group,
                            txn=txn,
                            new_extremities=[event.event_id],
                            push_actions=actions or (),
                        )
                    ]
                )
            except BaseException:
                if self.push is not None and actions is not None:
                    self.push.forget_unpersisted(event)
                raise
        await self.notify_listeners([event])
        return event

    async def _txn_event(self, txn: tuple[str, str, str]) -> Event | None:
        event_id = await self.events.get_txn_event(*txn)
        return await self.events.get_event(event_id) if event_id else None

    async def load_context(self, room_id: str) -> RoomContext:
        """The room's version, current state and forward extremities (caller holds the lock)."""
        room_version = await self.rooms.get_room_version(room_id)
        if room_version is None:
            raise NotFound("Unknown room")
        state = await self.state.get_current_state_ids(room_id)
        extremity_ids = await self.events.get_forward_extremities(room_id)
        prev = await self.events.get_events(extremity_ids, allow_rejected=True)
        prev_events = sorted(prev.values(), key=lambda e: e.depth, reverse=True)
        prev_events = prev_events[:MAX_PREV_EVENTS]
        base_group = None
        if prev_events:
            base_group = await self.state.get_state_group(prev_events[0].event_id)
        return RoomContext(room_id, room_version, state, prev_events, base_group)

    async def build_and_authorise(self, context: RoomContext, draft: EventDraft) -> Event:
        """Build the next event on ``context`` and check it against the room's current state.

        Raises ``Forbidden`` naming the failed auth rule; nothing is stored here.
        """
        room_version = context.room_version
        if "\x00" in draft.event_type or "\x00" in (draft.state_key or ""):
            # Stored as text, which cannot hold U+0000 on PostgreSQL.
            raise BadJson("Event types and state keys may not contain U+0000")
        auth_types = auth_types_for_event(
            room_version, draft.event_type, draft.state_key, draft.sender, draft.content
        )
        wanted = [context.state[k] for k in auth_types if k in context.state]
        create_id = context.state.get(("m.room.create", ""))
        lookup = [*wanted, create_id] if create_id else wanted
        missing = [i for i in lookup if i not in context.events]
        if missing:
            context.events.update(await self.events.get_events(missing))
        auth_events = [context.events[i] for i in wanted if i in context.events]
        depth = min(max((e.depth for e in context.prev_events), default=0) + 1, MAX_DEPTH)
        try:
            event = build_event(
                room_version=room_version,
                room_id=context.room_id,
                sender=draft.sender,
                event_type=draft.event_type,
                content=draft.content,
                state_key=draft.state_key,
                prev_events=context.prev_events,
                auth_events=auth_events,
                depth=depth,
                origin_server_ts=self.clock.time_msec(),
                origin=self.server_name,
                signing_key=self.signing_key,
                redacts=draft.redacts,
                event_id_v1=self.v1_event_id(room_version),
            )
        except InvalidEvent as exc:
            raise BadJson(exc.message) from None
        auth_map: dict[StateKey, Event] = {e.state_tuple: e for e in auth_events}
        if create_id and create_id in context.events:
            auth_map[("m.room.create", "")] = context.events[create_id]
        failure = check_auth(event, auth_map)
        if failure is not None:
            raise Forbidden(failure.reason)
        return event

    def v1_event_id(self, room_version: RoomVersion) -> str | None:
        """A server-assigned event ID for room versions 1 and 2 (`$opaque:domain`), else None."""
        if room_version.event_id_format is not EventIdFormat.SERVER_ASSIGNED:
            return None
        return f"${secrets.token_urlsafe(18)}:{self.server_name}"

    async def notify_listeners(self, events: Sequence[Event]) -> None:
        for listener in self.listeners:
            try:
                await listener(events)
            except Exception:  # a listener's failure must not fail the client's request
                logger.exception("listener failed for new events")


def _state_after(state: Mapping[StateKey, str], event: Event) -> StateMap:
    after = dict(state)
    if event.is_state:
        after[event.state_tuple] = event.event_id
    return after


def advance_context(context: RoomContext, event: Event) -> None:
    """Move ``context`` past ``event`` (for several events built under one lock)."""
    context.events[event.event_id] = event
    context.prev_events = [event]
    if event.is_state:
        context.state[event.state_tuple] = event.event_id
