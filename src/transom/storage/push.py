"""Push rule and notification count storage (client-server API, "Push Rules: API" and
"Receiving notifications").

``push_rules`` holds a user's own rules in priority order per kind; ``push_rule_overrides`` the
user's ``enabled``/``actions`` changes to any rule, default or own. ``event_push_actions`` holds
one row per notifying event per recipient until a read receipt at or after it deletes it, so the
unread counts are plain counts of rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from transom.storage.database import Connection, Database
from transom.storage.events import placeholders

# Rooms per IN list (SQLite allows 32,766 bound values; PostgreSQL 32,767).
_IN_CHUNK = 500

JsonDict = dict[str, Any]
RuleKey = tuple[str, str]  # (kind, rule_id)


@dataclass
class UserPushRules:
    """Everything a user changed: own rules per kind (highest priority first) and overrides."""

    rules: dict[str, list[JsonDict]] = field(default_factory=dict)
    enabled: dict[RuleKey, bool] = field(default_factory=dict)
    actions: dict[RuleKey, list[Any]] = field(default_factory=dict)


class PushAction(NamedTuple):
    """A notifying event for one recipient (a tuple: one is made per recipient of every event)."""

    user_id: str
    room_id: str
    event_id: str
    stream_ordering: int
    thread_id: str
    highlight: bool


class PushRuleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_user_rules(self, user_id: str) -> UserPushRules:
        found = UserPushRules()
        rows = await self.db.fetch(
            "SELECT kind, rule FROM push_rules WHERE user_id = $1 ORDER BY kind, position",
            user_id,
        )
        for row in rows:
            found.rules.setdefault(row["kind"], []).append(json.loads(row["rule"]))
        rows = await self.db.fetch(
            "SELECT kind, rule_id, enabled, actions FROM push_rule_overrides WHERE user_id = $1",
            user_id,
        )
        for row in rows:
            key = (row["kind"], row["rule_id"])
            if row["enabled"] is not None:
                found.enabled[key] = bool(row["enabled"])
            if row["actions"] is not None:
                found.actions[key] = json.loads(row["actions"])
        return found

    async def replace_kind(
        self, user_id: str, kind: str, rules: Sequence[Mapping[str, Any]], *, reset: str | None
    ) -> None:
        """Store the user's own rules of ``kind`` in this order; ``reset`` names a rule whose
        overrides are dropped (a rule just created or replaced)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM push_rules WHERE user_id = $1 AND kind = $2", user_id, kind
            )
            await conn.executemany(
                "INSERT INTO push_rules (user_id, kind, rule_id, position, rule)"
                " VALUES ($1, $2, $3, $4, $5)",
                [
                    (user_id, kind, rule["rule_id"], position, json.dumps(rule))
                    for position, rule in enumerate(rules)
                ],
            )
            if reset is not None:
                await conn.execute(
                    "DELETE FROM push_rule_overrides"
                    " WHERE user_id = $1 AND kind = $2 AND rule_id = $3",
                    user_id,
                    kind,
                    reset,
                )

    async def set_enabled(self, user_id: str, kind: str, rule_id: str, enabled: bool) -> None:
        await self.db.execute(
            "INSERT INTO push_rule_overrides (user_id, kind, rule_id, enabled)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, kind, rule_id)"
            " DO UPDATE SET enabled = $4",
            user_id,
            kind,
            rule_id,
            enabled,
        )

    async def set_actions(self, user_id: str, kind: str, rule_id: str, actions: list[Any]) -> None:
        await self.db.execute(
            "INSERT INTO push_rule_overrides (user_id, kind, rule_id, actions)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, kind, rule_id)"
            " DO UPDATE SET actions = $4",
            user_id,
            kind,
            rule_id,
            json.dumps(actions),
        )


class PushActionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, actions: Iterable[PushAction]) -> None:
        """Record notifying events, all in one statement."""
        rows = _rows(actions)
        if rows:
            await self.db.executemany(_INSERT_ACTIONS, rows)

    async def mark_read(
        self, user_id: str, room_id: str, up_to_stream: int, thread_id: str | None
    ) -> None:
        """A read receipt: forget notifications up to and including ``up_to_stream`` (in one
        thread, or in every thread for an unthreaded receipt)."""
        if thread_id is None:
            await self.db.execute(
                "DELETE FROM event_push_actions"
                " WHERE user_id = $1 AND room_id = $2 AND stream_ordering <= $3",
                user_id,
                room_id,
                up_to_stream,
            )
        else:
            await self.db.execute(
                "DELETE FROM event_push_actions WHERE user_id = $1 AND room_id = $2"
                " AND stream_ordering <= $3 AND thread_id = $4",
                user_id,
                room_id,
                up_to_stream,
                thread_id,
            )

    async def counts(self, user_id: str, room_id: str) -> tuple[int, int]:
        """(notification_count, highlight_count) of unread notifying events."""
        row = await self.db.fetchrow(
            "SELECT COUNT(*) AS n, SUM(CASE WHEN highlight THEN 1 ELSE 0 END) AS h"
            " FROM event_push_actions WHERE user_id = $1 AND room_id = $2",
            user_id,
            room_id,
        )
        if row is None:
            return 0, 0
        return int(row["n"] or 0), int(row["h"] or 0)

    async def counts_many(
        self, user_id: str, room_ids: Sequence[str]
    ) -> dict[str, tuple[int, int]]:
        """``counts`` for several rooms in one query per chunk of rooms (rooms with no unread
        notifying events are absent)."""
        found: dict[str, tuple[int, int]] = {}
        unique = list(dict.fromkeys(room_ids))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            rows = await self.db.fetch(
                "SELECT room_id, COUNT(*) AS n, SUM(CASE WHEN highlight THEN 1 ELSE 0 END) AS h"
                " FROM event_push_actions WHERE user_id = $1"
                f" AND room_id IN ({placeholders(len(chunk), start=2)}) GROUP BY room_id",
                user_id,
                *chunk,
            )
            for row in rows:
                found[row["room_id"]] = (int(row["n"] or 0), int(row["h"] or 0))
        return found


_INSERT_ACTIONS = (
    "INSERT INTO event_push_actions"
    " (user_id, room_id, event_id, stream_ordering, thread_id, highlight)"
    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
)


def _rows(
    actions: Iterable[PushAction], stream_ordering: int | None = None
) -> list[tuple[str, str, str, int, str, bool]]:
    return [
        (
            a.user_id,
            a.room_id,
            a.event_id,
            a.stream_ordering if stream_ordering is None else stream_ordering,
            a.thread_id,
            a.highlight,
        )
        for a in actions
    ]


async def insert_push_actions(
    conn: Connection, actions: Iterable[PushAction], *, stream_ordering: int | None = None
) -> None:
    """``PushActionStore.add`` inside the caller's transaction; ``stream_ordering`` overrides each
    action's own (actions computed before their event had a position)."""
    rows = _rows(actions, stream_ordering)
    if rows:
        await conn.executemany(_INSERT_ACTIONS, rows)
