"""Room state: state groups (the state after each event), current state, memberships.

A state group is immutable: its prev_group plus a delta, or a full snapshot when it has no
prev_group. Resolved groups are cached. Current state is cached per room and updated by the
persister inside the room's write lock, so readers see it change only after a commit.

A room's members (``get_members``: user ID -> membership, from current state) are cached too. The
membership stored for a member is that of its member event, so the cached members stay exact as
long as the member event IDs of current state do not change: ``set_cached_current_state`` (called
by the persister after each commit) keeps them when they did not (messages, most state events)
and drops them otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transom.core.events import StateKey
from transom.storage.database import Database
from transom.storage.events import LruCache, placeholders

StateMap = dict[StateKey, str]


@dataclass(frozen=True, slots=True)
class LocalMembership:
    """A local user's current membership of one room (possibly out-of-band)."""

    user_id: str
    room_id: str
    membership: str
    event_id: str
    stream_ordering: int
    outofband: bool
    stripped_state: list[dict[str, Any]] | None
    via_server: str | None
    forgotten: bool = False


class StateStore:
    """State groups, current state and membership lookups."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._groups: LruCache[int, StateMap] = LruCache(2_000)
        self._current: LruCache[str, StateMap] = LruCache(10_000)
        self._members: LruCache[str, dict[str, str]] = LruCache(10_000)
        # Bumped on every write, so that a load racing a write never caches stale state.
        self._generation = 0
        # Bumped when a room's members may have changed (a member event ID of current state).
        self._members_generation = 0

    # State groups -----------------------------------------------------------------------------

    async def get_state_group(self, event_id: str) -> int | None:
        value = await self.db.fetchval(
            "SELECT state_group FROM event_state_groups WHERE event_id = $1", event_id
        )
        return int(value) if value is not None else None

    async def get_state_groups(self, event_ids: Sequence[str]) -> dict[str, int]:
        if not event_ids:
            return {}
        rows = await self.db.fetch(
            "SELECT event_id, state_group FROM event_state_groups"
            f" WHERE event_id IN ({placeholders(len(event_ids))})",
            *event_ids,
        )
        return {row["event_id"]: int(row["state_group"]) for row in rows}

    async def get_group_state(self, group: int) -> StateMap:
        """The full state of a group (a copy the caller may change)."""
        cached = self._groups.get(group)
        if cached is not None:
            return dict(cached)
        # The group's link and delta in one query; usually its prev_group is cached (the state
        # before the last event of the room was read when that event was persisted).
        rows = await self.db.fetch(
            "SELECT g.prev_group, e.type, e.state_key, e.event_id FROM state_groups AS g"
            " LEFT JOIN state_group_entries AS e ON e.state_group = g.id WHERE g.id = $1",
            group,
        )
        chain: list[tuple[int, list[Any]]] = [(group, rows)]
        base: StateMap = {}
        prev: int | None = rows[0]["prev_group"] if rows else None
        if prev is not None:
            hit = self._groups.get(prev)
            if hit is not None:
                base = dict(hit)
            else:
                base = await self._walk_chain(prev, chain)
        for member, member_rows in reversed(chain):
            for row in member_rows:
                if row["type"] is not None:
                    base[(row["type"], row["state_key"])] = row["event_id"]
            self._groups.put(member, dict(base))
        return dict(base)

    async def _walk_chain(self, start: int, chain: list[tuple[int, list[Any]]]) -> StateMap:
        """Append the groups from ``start`` back to the first cached one (or the snapshot) to
        ``chain`` with their deltas, read in one recursive query; returns the cached state
        the walk stopped at ({} at a snapshot)."""
        rows = await self.db.fetch(
            "WITH RECURSIVE chain(id, prev_group, depth) AS ("
            " SELECT id, prev_group, 0 FROM state_groups WHERE id = $1"
            " UNION ALL SELECT g.id, g.prev_group, c.depth + 1 FROM state_groups AS g"
            " JOIN chain AS c ON g.id = c.prev_group)"
            " SELECT c.id, c.depth, e.type, e.state_key, e.event_id FROM chain AS c"
            " LEFT JOIN state_group_entries AS e ON e.state_group = c.id",
            start,
        )
        by_depth: dict[int, tuple[int, list[Any]]] = {}
        for row in rows:
            by_depth.setdefault(int(row["depth"]), (int(row["id"]), []))[1].append(row)
        for depth in sorted(by_depth):
            member, member_rows = by_depth[depth]
            hit = self._groups.get(member)
            if hit is not None:
                return dict(hit)
            chain.append((member, member_rows))
        return {}

    async def get_state_after(self, event_id: str) -> StateMap | None:
        group = await self.get_state_group(event_id)
        return None if group is None else await self.get_group_state(group)

    async def get_state_before(self, event: Any) -> StateMap | None:
        """The state before a local (linear) event: the state after its prev events, when it
        has exactly one; used for sync's "state at the start of the timeline"."""
        prev_ids = list(event.prev_event_ids)
        if len(prev_ids) != 1:
            groups = await self.get_state_groups(prev_ids)
            if not groups:
                return None
            # Several prev events: take the state after the most recent group (good enough for
            # display; the authoritative resolution happened when the event was persisted).
            return await self.get_group_state(max(groups.values()))
        return await self.get_state_after(prev_ids[0])

    # Current state ----------------------------------------------------------------------------

    async def get_current_state_ids(self, room_id: str) -> StateMap:
        """The room's current state as (type, state_key) -> event ID (a copy)."""
        cached = self._current.get(room_id)
        if cached is not None:
            return dict(cached)
        generation = self._generation
        rows = await self.db.fetch(
            "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1", room_id
        )
        state = {(row["type"], row["state_key"]): row["event_id"] for row in rows}
        if generation == self._generation:
            self._current.put(room_id, dict(state))
        return state

    def set_cached_current_state(self, room_id: str, state: Mapping[StateKey, str]) -> None:
        """The room's current state as just committed (called by the persister)."""
        self._generation += 1
        new = dict(state)
        previous = self._current.get(room_id)
        if previous is None or (previous != new and _member_ids(previous) != _member_ids(new)):
            self._forget_members(room_id)
        self._current.put(room_id, new)

    def forget_current_state(self, room_id: str) -> None:
        self._generation += 1
        self._current.pop(room_id)
        self._forget_members(room_id)

    def _forget_members(self, room_id: str) -> None:
        self._members_generation += 1
        self._members.pop(room_id)

    async def get_current_state_event_id(
        self, room_id: str, event_type: str, state_key: str = ""
    ) -> str | None:
        # Read from the cached map itself: no copy of the whole state for one entry.
        state = self._current.get(room_id)
        if state is None:
            state = await self.get_current_state_ids(room_id)
        return state.get((event_type, state_key))

    async def get_members(self, room_id: str) -> dict[str, str]:
        """user ID -> membership, from the room's current state (a copy)."""
        return dict(await self._members_of(room_id))

    async def _members_of(self, room_id: str) -> Mapping[str, str]:
        """The members (the cached map itself when there is one: not to be changed)."""
        cached = self._members.get(room_id)
        if cached is not None:
            return cached
        generation = self._members_generation
        rows = await self.db.fetch(
            "SELECT state_key, membership FROM current_state"
            " WHERE room_id = $1 AND type = 'm.room.member'",
            room_id,
        )
        members = {row["state_key"]: row["membership"] for row in rows}
        if generation == self._members_generation:
            self._members.put(room_id, members)
        return members

    async def get_joined_hosts(self, room_id: str) -> set[str]:
        members = await self._members_of(room_id)
        return {user_id.split(":", 1)[1] for user_id, m in members.items() if m == "join"}

    # Local memberships ------------------------------------------------------------------------

    async def get_local_membership(self, user_id: str, room_id: str) -> LocalMembership | None:
        row = await self.db.fetchrow(
            "SELECT * FROM local_memberships WHERE user_id = $1 AND room_id = $2",
            user_id,
            room_id,
        )
        return _membership(row) if row is not None else None

    async def get_local_memberships(
        self, user_id: str, memberships: Sequence[str] | None = None
    ) -> list[LocalMembership]:
        rows = await self.db.fetch(
            "SELECT * FROM local_memberships WHERE user_id = $1 ORDER BY stream_ordering",
            user_id,
        )
        result = [_membership(row) for row in rows]
        if memberships is not None:
            result = [m for m in result if m.membership in memberships]
        return result

    async def set_forgotten(self, user_id: str, room_id: str) -> None:
        """Mark a room forgotten by a user (cleared by the user's next membership change)."""
        await self.db.execute(
            "UPDATE local_memberships SET forgotten = TRUE WHERE user_id = $1 AND room_id = $2",
            user_id,
            room_id,
        )

    async def has_forgotten(self, user_id: str, room_id: str) -> bool:
        membership = await self.get_local_membership(user_id, room_id)
        return membership is not None and membership.forgotten

    async def get_membership_changes(self, user_id: str, after: int) -> list[LocalMembership]:
        rows = await self.db.fetch(
            "SELECT * FROM local_memberships WHERE user_id = $1 AND stream_ordering > $2"
            " ORDER BY stream_ordering",
            user_id,
            after,
        )
        return [_membership(row) for row in rows]

    async def get_local_users_in_room(self, room_id: str) -> dict[str, str]:
        rows = await self.db.fetch(
            "SELECT user_id, membership FROM local_memberships WHERE room_id = $1", room_id
        )
        return {row["user_id"]: row["membership"] for row in rows}


def _member_ids(state: Mapping[StateKey, str]) -> dict[str, str]:
    """The member event ID of each user in ``state``."""
    return {key[1]: event_id for key, event_id in state.items() if key[0] == "m.room.member"}


def _membership(row: Any) -> LocalMembership:
    stripped = row["stripped_state"]
    return LocalMembership(
        user_id=row["user_id"],
        room_id=row["room_id"],
        membership=row["membership"],
        event_id=row["event_id"],
        stream_ordering=int(row["stream_ordering"]),
        outofband=bool(row["outofband"]),
        stripped_state=json.loads(stripped) if stripped else None,
        via_server=row["via_server"],
        forgotten=bool(row["forgotten"]),
    )
