"""The local event pipeline: build, authorise and persist events this server creates.

Spec: server-server API "PDUs" (prev_events, auth_events, depth), "Auth events selection";
room versions' authorization rules. Every event goes through ``transom.core.pdu.build_event``
(hashes, signature, event ID) and ``transom.core.auth.check_auth`` against the room's current
state before it is stored; a rejected request leaves nothing behind.

Invariant: writes to one room are serialised by ``RoomLocks``; different rooms run in parallel.

Group commit: ``send`` queues its draft on the room; one worker per room takes every queued
draft (at most ``MAX_BATCH``) under the room's lock, loads the room once, builds and authorises
the drafts one after another, each citing the previous one, and persists them in one transaction
with consecutive stream positions. A draft refused by the auth rules or validation fails only its
own sender and leaves the room as it was for the next; a failed persist fails every sender of the
batch. Listeners hear of each batch once, its events in order, before the senders get their
answers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
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
# The most queued events of one room persisted in one transaction (bounds a sender's wait).
MAX_BATCH = 50
# Event loop passes the worker lets go by before taking a batch, so requests that have already
# arrived reach the queue and share the commit (a zero-time commit delay; with SQLite, whose
# calls never suspend, the worker would otherwise take only what queued during the last batch).
GATHER_PASSES = 3

TxnKey = tuple[str, str, str]

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


@dataclass(eq=False, slots=True)
class _Queued:
    """A draft waiting for its room's worker; ``future`` gets the event or the error."""

    draft: EventDraft
    txn: TxnKey | None
    future: asyncio.Future[Event]


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
        # Push actions written in the event's own transaction (one commit per batch).
        self.push: PushEvaluator | None = None
        # Drafts waiting per room, and the room's worker while it has some.
        self._queues: dict[str, deque[_Queued]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        # Sends with a transaction ID from their idempotency check until they are answered: a
        # repeat of one joins it, so a transaction ID is looked up once and stored once.
        self._txns: dict[TxnKey, asyncio.Future[Event]] = {}

    async def send(self, room_id: str, draft: EventDraft, *, txn: TxnKey | None = None) -> Event:
        """Create one event in a room; with ``txn`` (user, device, txn ID) it is idempotent.

        Client-server API "Transaction identifiers": a request repeated with the same
        transaction ID (same user and device) answers with the event of the first one.
        """
        loop = asyncio.get_running_loop()
        if txn is not None:
            running = self._txns.get(txn)
            if running is not None:
                return await asyncio.shield(running)
        future: asyncio.Future[Event] = loop.create_future()
        if txn is not None:
            # Registered before the look-up: any earlier send of ``txn`` is either still here
            # (and joined above) or committed, so the look-up below is the only one it needs.
            self._txns[txn] = future
            future.add_done_callback(lambda done: self._txn_answered(txn, done))
            try:
                existing = await self._txn_event(txn)
            except BaseException as exc:
                _fail(future, exc)
                raise
            if existing is not None:
                future.set_result(existing)
                return existing
        queue = self._queues.get(room_id)
        if queue is None:
            queue = self._queues[room_id] = deque()
        queue.append(_Queued(draft, txn, future))
        if room_id not in self._workers:
            self._workers[room_id] = loop.create_task(self._drain(room_id, queue))
        # Shielded: a sender that goes away does not take the batch of others down with it.
        return await asyncio.shield(future)

    def queued(self, room_id: str) -> int:
        """How many drafts of the room wait for its worker (not yet taken into a batch)."""
        return len(self._queues.get(room_id, ()))

    def _txn_answered(self, txn: TxnKey, future: asyncio.Future[Event]) -> None:
        if self._txns.get(txn) is future:
            del self._txns[txn]
        if not future.cancelled():
            future.exception()  # retrieved, even if every sender waiting on it went away

    async def _drain(self, room_id: str, queue: deque[_Queued]) -> None:
        """The room's worker: persist queued drafts in batches until none is left."""
        try:
            while queue:
                async with self.locks.lock(room_id):
                    for _ in range(GATHER_PASSES):
                        if len(queue) >= MAX_BATCH:
                            break
                        await asyncio.sleep(0)
                    batch = [queue.popleft() for _ in range(min(len(queue), MAX_BATCH))]
                    try:
                        results, events = await self._write_batch(room_id, batch)
                    except BaseException as exc:
                        for item in batch:
                            _fail(item.future, exc)
                        raise
                try:
                    if events:
                        await self.notify_listeners(events)
                finally:
                    for item, result in zip(batch, results, strict=True):
                        if item.future.done():
                            continue
                        if isinstance(result, Event):
                            item.future.set_result(result)
                        else:
                            item.future.set_exception(result)
        finally:
            del self._workers[room_id]
            del self._queues[room_id]
            while queue:  # only after a crash or cancellation of the worker
                queue.popleft().future.cancel()

    async def _write_batch(
        self, room_id: str, batch: list[_Queued]
    ) -> tuple[list[Event | Exception], list[Event]]:
        """Build, authorise and persist ``batch`` in one transaction (caller holds the lock).

        Returns each draft's event or error, and the events persisted in order. A draft that
        fails leaves the context as it was: the next one cites the last event that succeeded.
        """
        try:
            context = await self.load_context(room_id)
        except Exception as exc:
            return [exc] * len(batch), []
        results: list[Event | Exception] = []
        entries: list[PersistEntry] = []
        with_actions: list[Event] = []
        try:
            await self._build_batch(context, batch, results, entries, with_actions)
            if entries:
                await self.persister.persist(entries)
        except Exception as exc:
            # Only the persist raises here: every event of the batch fails with it.
            self._forget_actions(with_actions)
            return [exc if isinstance(r, Event) else r for r in results], []
        except BaseException:
            self._forget_actions(with_actions)
            raise
        return results, [entry.event for entry in entries]

    async def _build_batch(
        self,
        context: RoomContext,
        batch: list[_Queued],
        results: list[Event | Exception],
        entries: list[PersistEntry],
        with_actions: list[Event],
    ) -> None:
        """Build and authorise each draft on ``context`` in turn, appending its event or error
        to ``results``, its entry to ``entries`` and, when push actions were evaluated for it,
        its event to ``with_actions``."""
        state_after: StateMap = dict(context.state)
        state_changed = False
        for item in batch:
            try:
                event = await self.build_and_authorise(context, item.draft)
                actions = None
                if self.push is not None and not state_changed:
                    # Evaluated against the room's stored state: a message after a state
                    # event of the same batch is evaluated by the listener once stored instead.
                    actions = await self.push.actions_before_persist(event)
            except Exception as exc:
                results.append(exc)
                continue
            if actions is not None:
                with_actions.append(event)
            advance_context(context, event)
            if event.is_state:
                state_changed = True
                state_after = dict(context.state)
            entries.append(
                PersistEntry(
                    event=event,
                    state_after=state_after,
                    base_group=context.base_group if not entries else None,
                    base_entry=entries[-1] if entries else None,
                    txn=item.txn,
                    new_extremities=[event.event_id],
                    push_actions=actions or (),
                )
            )
            results.append(event)

    def _forget_actions(self, events: list[Event]) -> None:
        """Push actions were evaluated for ``events``, which were not stored after all."""
        if self.push is not None:
            for event in events:
                self.push.forget_unpersisted(event)

    async def _txn_event(self, txn: TxnKey) -> Event | None:
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
            newest = prev_events[0].event_id
            base_group = self.persister.known_state_group(newest)
            if base_group is None:
                base_group = await self.state.get_state_group(newest)
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
        """Tell the listeners of new events. For sends this runs in the room's worker, before
        the batch's senders are answered: a listener must not wait for a send into the same
        room (it would wait for itself)."""
        for listener in self.listeners:
            try:
                await listener(events)
            except Exception:  # a listener's failure must not fail the client's request
                logger.exception("listener failed for new events")


def _fail(future: asyncio.Future[Event], exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)


def advance_context(context: RoomContext, event: Event) -> None:
    """Move ``context`` past ``event`` (for several events built under one lock)."""
    context.events[event.event_id] = event
    context.prev_events = [event]
    if event.is_state:
        context.state[event.state_tuple] = event.event_id
