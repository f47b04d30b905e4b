"""Persisting events: one transaction writes an event, its DAG edges, its state group, the room's
current state and forward extremities, local memberships, transaction IDs and redactions.

Invariant: every stream position (events, out-of-band memberships, account data, receipts) is
allocated by ``StreamAllocator`` under one lock and committed in order, so a sync token ``N``
means "everything up to N is visible" with nothing committed later below it.

Backfilled history (server-server API "Backfilling and retrieving missing events") takes
NEGATIVE positions, allocated downwards under the same lock: it is older than anything a client
has seen, so it sorts before all of it and an incremental sync (``stream_ordering > since``, with
``since >= 0``) never returns it; an initial sync's timeline and ``/messages`` pagination do.

Readers rely on three properties (the sync store's caches check freshness by stream position):
positions are committed in order; redactions and transaction IDs are written in their event's
own transaction; nothing yields between advancing the stream position and updating the cached
current state.

One ``persist`` call is one transaction however many events it holds: rows of the same kind are
written with one statement for the whole batch (events, edges, auth, state groups and their
entries, state groups of events, transaction IDs, redactions, push actions, current state,
local memberships), and a room's forward extremities are rewritten once, to those of its last
entry that names them. Current state and local memberships are gathered per key while the
entries are walked, so a key written twice in one batch keeps only its last value (a key
removed and later set again is only set), exactly as writing the entries one by one would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from canonicaljson import encode_canonical_json

from transom.core.events import Event, StateKey
from transom.storage.database import Connection, Database
from transom.storage.events import EventStore, LruCache, StoredEvent
from transom.storage.push import PushAction, insert_push_actions
from transom.storage.state import StateMap, StateStore

T = TypeVar("T")

# A state group's delta chain is cut with a full snapshot beyond this length.
MAX_CHAIN_LENGTH = 50
# Recently persisted events' state groups and groups' chain lengths kept in memory (both are
# immutable once committed).
KNOWN_GROUPS = 10_000


class StreamAllocator:
    """Allocates stream positions and serialises the writes that use them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock()
        self.current = 0
        # The lowest position handed out for backfilled events (0: none yet).
        self.backfill_current = 0
        self._waiters: list[Callable[[int], None]] = []

    async def setup(self) -> None:
        values = [
            await self.db.fetchval("SELECT MAX(stream_ordering) FROM events"),
            await self.db.fetchval("SELECT MAX(stream_ordering) FROM local_memberships"),
        ]
        for extra in ("account_data", "receipts"):
            try:
                values.append(await self.db.fetchval(f"SELECT MAX(stream_id) FROM {extra}"))
            except Exception:  # table added by a later migration, or absent
                continue
        self.current = max(int(v or 0) for v in values)
        lowest = await self.db.fetchval("SELECT MIN(stream_ordering) FROM events")
        self.backfill_current = min(0, int(lowest or 0))

    def on_advance(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(position)`` after each committed write (used by the notifier)."""
        self._waiters.append(callback)

    async def write(
        self, count: int, fn: Callable[[Connection, list[int]], Awaitable[T]]
    ) -> tuple[T, list[int]]:
        """Run ``fn(conn, positions)`` in a transaction with ``count`` new positions."""
        async with self._lock:
            positions = list(range(self.current + 1, self.current + 1 + count))
            async with self.db.transaction() as conn:
                result = await fn(conn, positions)
            if positions:
                self.current = positions[-1]
                for callback in self._waiters:
                    callback(self.current)
            return result, positions

    async def write_backwards(
        self, count: int, fn: Callable[[Connection, list[int]], Awaitable[T]]
    ) -> tuple[T, list[int]]:
        """Like ``write`` with ``count`` new negative positions below every earlier one, given in
        ascending order (the caller lists events oldest first). Nothing waiting on the forward
        stream is woken: these positions are behind every sync token."""
        async with self._lock:
            positions = list(range(self.backfill_current - count, self.backfill_current))
            async with self.db.transaction() as conn:
                result = await fn(conn, positions)
            if positions:
                self.backfill_current = positions[0]
            return result, positions


@dataclass
class PersistEntry:
    """One event to persist and what the server decided about it."""

    event: Event
    # The full state after the event; None for outliers (their state is unknown).
    state_after: StateMap | None
    # The state group of the state before the event, to store state_after as a delta.
    base_group: int | None = None
    # Or: the state group of an earlier entry of the same batch (room creation).
    base_entry: PersistEntry | None = None
    rejected_reason: str | None = None
    outlier: bool = False
    # False for soft-failed events: stored and in the DAG, but current state does not move.
    update_current_state: bool = True
    # The room's current state after this event when it differs from ``state_after`` (an event
    # received over federation that does not cite every forward extremity); None: state_after.
    new_current_state: StateMap | None = None
    txn: tuple[str, str, str] | None = None
    # The room's forward extremities after this event; None leaves them unchanged.
    new_extremities: list[str] | None = None
    # The event is stored as an outlier without state: it becomes a timeline event with
    # ``state_after`` (backfill reaching events first seen in a send_join answer or auth chain).
    replaces_outlier: bool = False
    # Notifying results of the push rules for this event, written in the same transaction at the
    # event's stream position (their ``stream_ordering`` is ignored).
    push_actions: Sequence[PushAction] = ()
    # Filled in by the persister.
    state_group: int | None = field(default=None)


@dataclass
class _BatchRows:
    """Rows gathered while one ``persist`` walks its entries, each table written at the end with
    one statement (no write of the walk reads them back)."""

    edges: list[tuple[str, str]] = field(default_factory=list)
    auth: list[tuple[str, str]] = field(default_factory=list)
    event_groups: list[tuple[str, int]] = field(default_factory=list)
    redactions: list[tuple[str, str]] = field(default_factory=list)
    txns: list[tuple[str, str, str, str]] = field(default_factory=list)
    # Each room's forward extremities after the batch: those of its last entry naming them.
    extremities: dict[str, list[str]] = field(default_factory=dict)
    push_actions: list[PushAction] = field(default_factory=list)
    # Chain lengths of the state groups written by this batch.
    chain_lengths: dict[int, int] = field(default_factory=dict)
    # (id, room_id, prev_group, chain_length) and (state_group, type, state_key, event_id).
    state_groups: list[tuple[str | int | None, ...]] = field(default_factory=list)
    group_entries: list[tuple[int, str, str, str]] = field(default_factory=list)
    # Each current state key's final row in the batch: (event_id, membership), None: deleted.
    current_state: dict[tuple[str, str, str], tuple[str, str | None] | None] = field(
        default_factory=dict
    )
    # Each local member's final membership in the batch: (membership, event_id, position).
    memberships: dict[tuple[str, str], tuple[str, str, int]] = field(default_factory=dict)
    # The state map each room's current state was last brought to (compared by identity).
    applied: dict[str, StateMap] = field(default_factory=dict)


_UPSERT_LOCAL_MEMBERSHIP = (
    "INSERT INTO local_memberships (user_id, room_id, membership, event_id,"
    " stream_ordering, outofband, stripped_state, via_server)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (user_id, room_id) DO UPDATE SET membership = excluded.membership,"
    " event_id = excluded.event_id, stream_ordering = excluded.stream_ordering,"
    " outofband = excluded.outofband, stripped_state = excluded.stripped_state,"
    " via_server = excluded.via_server, forgotten = FALSE"
)

_INSERT_EVENT = (
    "INSERT INTO events (stream_ordering, event_id, room_id, room_version, type,"
    " state_key, sender, depth, origin_server_ts, json, rejected_reason, outlier)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)


class EventPersister:
    """Writes events; the only writer of the event, state and membership tables."""

    def __init__(
        self,
        db: Database,
        events: EventStore,
        state: StateStore,
        streams: StreamAllocator,
        is_local_user: Callable[[str], bool],
    ) -> None:
        self.db = db
        self.events = events
        self.state = state
        self.streams = streams
        self.is_local_user = is_local_user
        self._next_group = 0
        # Committed facts this persister wrote, so they need not be read back.
        self._event_groups: LruCache[str, int] = LruCache(KNOWN_GROUPS)
        self._chain_lengths: LruCache[int, int] = LruCache(KNOWN_GROUPS)

    async def setup(self) -> None:
        value = await self.db.fetchval("SELECT MAX(id) FROM state_groups")
        self._next_group = int(value or 0) + 1

    def known_state_group(self, event_id: str) -> int | None:
        """The state group of an event persisted recently by this process, if remembered
        (``StateStore.get_state_group`` otherwise)."""
        return self._event_groups.get(event_id)

    async def persist(
        self, entries: Sequence[PersistEntry], *, backfilled: bool = False
    ) -> list[StoredEvent]:
        """Persist ``entries`` in order, atomically. Returns them with stream orderings.
        ``backfilled``: historical events, given oldest first, which take negative positions."""
        current_by_room: dict[str, StateMap] = {}
        for entry in entries:
            room_id = entry.event.room_id
            if room_id not in current_by_room:
                current_by_room[room_id] = await self.state.get_current_state_ids(room_id)
        group_cache: dict[int, StateMap] = {}
        batch = {entry.event.event_id: entry.event for entry in entries}
        for entry in entries:
            # Load base groups before the transaction: only its connection may be used inside.
            if entry.base_group is not None and entry.base_group not in group_cache:
                group_cache[entry.base_group] = await self.state.get_group_state(entry.base_group)

        async def write(
            conn: Connection, positions: list[int]
        ) -> tuple[list[StoredEvent], _BatchRows]:
            # State group IDs are taken here, under the stream lock, so concurrent persists never
            # share one. A rolled-back write leaves a gap, which is harmless.
            rows = _BatchRows()
            placed = list(zip(entries, positions, strict=True))
            inserted = [(e, p) for e, p in placed if not e.replaces_outlier]
            if inserted:
                await conn.executemany(_INSERT_EVENT, [_event_row(e, p) for e, p in inserted])
            stored: list[StoredEvent] = []
            for entry, position in placed:
                stored.append(
                    await self._write_one(
                        conn, entry, position, current_by_room, group_cache, batch, rows
                    )
                )
            await _write_rows(conn, rows)
            return stored, rows

        allocate = self.streams.write_backwards if backfilled else self.streams.write
        (stored, rows), _ = await allocate(len(entries), write)
        for room_id, state in current_by_room.items():
            self.state.set_cached_current_state(room_id, state)
        for item in stored:
            self.events.remember(item)
        for event_id, group in rows.event_groups:
            self._event_groups.put(event_id, group)
        for group, length in rows.chain_lengths.items():
            self._chain_lengths.put(group, length)
        return stored

    async def _write_one(
        self,
        conn: Connection,
        entry: PersistEntry,
        position: int,
        current_by_room: dict[str, StateMap],
        group_cache: dict[int, StateMap],
        batch: dict[str, Event],
        rows: _BatchRows,
    ) -> StoredEvent:
        """Write what one entry needs now (its outlier update, room row, state group, current
        state); gather the rest in ``rows``. The events row is already written."""
        event = entry.event
        room_id = event.room_id
        if entry.replaces_outlier:
            await conn.execute(
                "UPDATE events SET stream_ordering = $1, outlier = $2, rejected_reason = $3"
                " WHERE event_id = $4",
                position,
                entry.outlier,
                entry.rejected_reason,
                event.event_id,
            )
        if event.is_create and not entry.outlier and entry.rejected_reason is None:
            creator = event.content.get("creator") or event.sender
            await conn.execute(
                "INSERT INTO rooms (room_id, room_version, creator, created_ts)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (room_id) DO NOTHING",
                room_id,
                event.room_version.identifier,
                str(creator),
                event.origin_server_ts,
            )
        rows.edges.extend((event.event_id, p) for p in event.prev_event_ids)
        rows.auth.extend((event.event_id, a) for a in event.auth_event_ids)
        if entry.state_after is not None:
            entry.state_group = await self._write_state_group(conn, entry, group_cache, rows)
            rows.event_groups.append((event.event_id, entry.state_group))
        accepted = entry.rejected_reason is None and not entry.outlier
        if accepted and entry.update_current_state and entry.state_after is not None:
            new_current = entry.new_current_state
            new_state = new_current if new_current is not None else entry.state_after
            # Entries of a batch that change no state share one map: applied once is enough.
            if rows.applied.get(room_id) is not new_state:
                await self._update_current_state(
                    conn, room_id, current_by_room[room_id], new_state, position, batch, rows
                )
                rows.applied[room_id] = new_state
        if accepted and event.type == "m.room.redaction" and event.redacts:
            rows.redactions.append((event.event_id, event.redacts))
        if entry.txn is not None:
            rows.txns.append((*entry.txn, event.event_id))
        if entry.new_extremities is not None:
            rows.extremities[room_id] = entry.new_extremities
        if accepted and entry.push_actions:
            # Computed before the event had a position: they take it now.
            rows.push_actions.extend(
                PushAction(
                    user_id=a.user_id,
                    room_id=a.room_id,
                    event_id=a.event_id,
                    stream_ordering=position,
                    thread_id=a.thread_id,
                    highlight=a.highlight,
                )
                for a in entry.push_actions
            )
        return StoredEvent(event, position, entry.rejected_reason, entry.outlier)

    async def _write_state_group(
        self,
        conn: Connection,
        entry: PersistEntry,
        group_cache: dict[int, StateMap],
        rows: _BatchRows,
    ) -> int:
        assert entry.state_after is not None
        base_group = entry.base_group
        if entry.base_entry is not None:
            base_group = entry.base_entry.state_group
            if entry.base_entry.state_after is entry.state_after and base_group is not None:
                return base_group  # the very same state map as the entry before
        base_state: StateMap | None = None
        chain_length = 0
        if base_group is not None:
            base_state = group_cache[base_group]
            if base_state == entry.state_after:
                return base_group
            known = rows.chain_lengths.get(base_group)
            if known is None:
                known = self._chain_lengths.get(base_group)
            if known is None:
                row = await conn.fetchrow(
                    "SELECT chain_length FROM state_groups WHERE id = $1", base_group
                )
                known = int(row["chain_length"]) if row is not None else MAX_CHAIN_LENGTH
            chain_length = known
        group = self._next_group
        self._next_group += 1
        delta: dict[StateKey, str]
        removed = base_state is not None and any(k not in entry.state_after for k in base_state)
        if base_state is None or removed or chain_length >= MAX_CHAIN_LENGTH:
            prev: int | None = None
            delta = dict(entry.state_after)
            chain_length = 0
        else:
            prev = base_group
            delta = {k: v for k, v in entry.state_after.items() if base_state.get(k) != v}
            chain_length += 1
        rows.state_groups.append((group, entry.event.room_id, prev, chain_length))
        rows.group_entries.extend((group, k[0], k[1], v) for k, v in delta.items())
        group_cache[group] = dict(entry.state_after)
        rows.chain_lengths[group] = chain_length
        return group

    async def _update_current_state(
        self,
        conn: Connection,
        room_id: str,
        current: StateMap,
        new_state: StateMap,
        position: int,
        batch: dict[str, Event],
        rows: _BatchRows,
    ) -> None:
        """Bring ``current`` (the room's current state so far in the batch) to ``new_state``,
        gathering the rows to write in ``rows``."""
        removed = [k for k in current if k not in new_state]
        changed = {k: v for k, v in new_state.items() if current.get(k) != v}
        for key in removed:
            rows.current_state[(room_id, key[0], key[1])] = None
            del current[key]
        if not changed:
            return
        wanted = [v for k, v in changed.items() if k[0] == "m.room.member"]
        member_events = {i: batch[i] for i in wanted if i in batch}
        missing = [i for i in wanted if i not in batch]
        if missing:
            stored = await self.events.get_stored(missing, conn=conn)
            member_events.update({i: s.event for i, s in stored.items()})
        for key, event_id in changed.items():
            membership = None
            member_event = member_events.get(event_id)
            if member_event is not None:
                membership = member_event.membership
            # Set again after a removal earlier in the batch: the upsert alone gives that row.
            rows.current_state[(room_id, key[0], key[1])] = (event_id, membership)
            current[key] = event_id
            if membership is not None and self.is_local_user(key[1]):
                rows.memberships[(key[1], room_id)] = (membership, event_id, position)


def _event_row(entry: PersistEntry, position: int) -> tuple[Any, ...]:
    event = entry.event
    return (
        position,
        event.event_id,
        event.room_id,
        event.room_version.identifier,
        event.type,
        event.state_key,
        event.sender,
        event.depth,
        event.origin_server_ts,
        encode_canonical_json(event.pdu).decode("utf-8"),
        entry.rejected_reason,
        entry.outlier,
    )


async def _write_rows(conn: Connection, rows: _BatchRows) -> None:
    """The gathered rows of a batch, one statement per table."""
    if rows.state_groups:
        await conn.executemany(
            "INSERT INTO state_groups (id, room_id, prev_group, chain_length)"
            " VALUES ($1, $2, $3, $4)",
            rows.state_groups,
        )
    if rows.group_entries:
        await conn.executemany(
            "INSERT INTO state_group_entries (state_group, type, state_key, event_id)"
            " VALUES ($1, $2, $3, $4)",
            rows.group_entries,
        )
    if rows.edges:
        await conn.executemany(
            "INSERT INTO event_edges (event_id, prev_event_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            rows.edges,
        )
    if rows.auth:
        await conn.executemany(
            "INSERT INTO event_auth (event_id, auth_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            rows.auth,
        )
    if rows.event_groups:
        await conn.executemany(
            "INSERT INTO event_state_groups (event_id, state_group) VALUES ($1, $2)",
            rows.event_groups,
        )
    if rows.redactions:
        await conn.executemany(
            "INSERT INTO redactions (event_id, redacts) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            rows.redactions,
        )
    if rows.txns:
        await conn.executemany(
            "INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id)"
            " VALUES ($1, $2, $3, $4)",
            rows.txns,
        )
    for room_id, extremities in rows.extremities.items():
        await conn.execute("DELETE FROM forward_extremities WHERE room_id = $1", room_id)
        if extremities:
            await conn.executemany(
                "INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $2)",
                [(room_id, e) for e in extremities],
            )
    if rows.push_actions:
        await insert_push_actions(conn, rows.push_actions)
    # Each key's final value only, so removals and upserts never name the same key: removals
    # first all the same, as one by one.
    removed = [key for key, value in rows.current_state.items() if value is None]
    if removed:
        await conn.executemany(
            "DELETE FROM current_state WHERE room_id = $1 AND type = $2 AND state_key = $3",
            removed,
        )
    upserts = [(*key, *value) for key, value in rows.current_state.items() if value is not None]
    if upserts:
        await conn.executemany(
            "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (room_id, type, state_key)"
            " DO UPDATE SET event_id = excluded.event_id, membership = excluded.membership",
            upserts,
        )
    if rows.memberships:
        await conn.executemany(
            _UPSERT_LOCAL_MEMBERSHIP,
            [
                (user_id, room_id, membership, event_id, position, False, None, None)
                for (user_id, room_id), (membership, event_id, position) in rows.memberships.items()
            ],
        )


async def upsert_local_membership(
    conn: Connection,
    user_id: str,
    room_id: str,
    membership: str,
    event_id: str,
    position: int,
    *,
    outofband: bool = False,
    stripped_state: list[dict[str, Any]] | None = None,
    via_server: str | None = None,
) -> None:
    await conn.execute(
        _UPSERT_LOCAL_MEMBERSHIP,
        user_id,
        room_id,
        membership,
        event_id,
        position,
        outofband,
        json.dumps(stripped_state) if stripped_state is not None else None,
        via_server,
    )
