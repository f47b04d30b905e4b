"""Push rules and unread notification counts (client-server API, "Push Notifications": "Push
Rules", "Push Rules: API", "Receiving notifications"; MSC4506 knock notifications).

Rules: the server defaults (``transom.core.push.default_rules``) merged with the user's own rules
and overrides, cached per user together with their compiled form (``compile_ruleset``) until the
user changes a rule; every change is mirrored into the ``m.push_rules`` account data.

Counts: every new event is evaluated against the rules of every joined local member except its
sender, with one ``EventEvaluator`` per event (conditions that do not depend on the recipient are
evaluated once per event); a notifying result records a row that a read receipt at or after the
event removes, so ``unread_counts`` is a count of rows. The room facts the evaluation needs
(member count, local members' display names, power levels) are cached per room and kept current
from the events themselves: member events update it, power level and create events drop it. Push
rules are not room-versioned; power levels are read per the room's version by
``transom.core.auth``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from transom.core.auth import get_required_level, get_user_power_level
from transom.core.events import Event, StateKey
from transom.core.push import (
    DEFAULT_ACTION_LEVELS,
    CompiledRuleset,
    EventEvaluator,
    compile_ruleset,
    default_rules,
    merge_rules,
)
from transom.services.account_data import AccountDataService
from transom.services.errors import NotFound, UnknownError
from transom.storage.events import EventStore
from transom.storage.persist import StreamAllocator
from transom.storage.push import PushAction, PushActionStore, PushRuleStore
from transom.storage.state import StateStore

JsonDict = dict[str, Any]
_CONTEXT_TYPES = frozenset({"m.room.power_levels", "m.room.create"})


@dataclass
class RoomPushState:
    """Cached facts about one room's current state, for evaluating push rules in it."""

    auth_map: dict[StateKey, Event]
    joined: set[str]
    local_names: dict[str, str | None]  # joined local user -> display name
    notification_levels: Mapping[str, int]
    action_levels: Mapping[str, int]
    filled_at: int
    applied: dict[str, int] = field(default_factory=dict)  # user -> stream of last member event
    levels: dict[str, int | float] = field(default_factory=dict)

    def level(self, user_id: str) -> int | float:
        found = self.levels.get(user_id)
        if found is None:
            found = self.levels[user_id] = get_user_power_level(user_id, self.auth_map)
        return found

    def apply_member(self, event: Event, stream: int, is_local: bool) -> None:
        user = event.state_key or ""
        if stream <= self.applied.get(user, self.filled_at):
            return
        self.applied[user] = stream
        if event.membership == "join":
            self.joined.add(user)
            if is_local:
                name = event.content.get("displayname")
                self.local_names[user] = name if isinstance(name, str) else None
        else:
            self.joined.discard(user)
            self.local_names.pop(user, None)


def _thread_of(event: Event) -> str:
    """'main', or the thread root for an event in a thread ("Threading")."""
    relates = event.content.get("m.relates_to")
    if isinstance(relates, dict) and relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        if isinstance(root, str):
            return root
    return "main"


class PushService:
    def __init__(
        self,
        *,
        rules: PushRuleStore,
        actions: PushActionStore,
        account_data: AccountDataService,
        events: EventStore,
        state: StateStore,
        streams: StreamAllocator,
        is_local_user: Callable[[str], bool],
    ) -> None:
        self.rules = rules
        self.actions = actions
        self.account_data = account_data
        self.events = events
        self.state = state
        self.streams = streams
        self.is_local_user = is_local_user
        # user -> (merged ruleset, its compiled form); dropped when the user changes a rule.
        self._rulesets: dict[str, tuple[JsonDict, CompiledRuleset]] = {}
        # user -> count of rule changes; a load that saw an older count is not cached (a change
        # made while the rules were being read must not be hidden by what was read before it).
        self._generations: dict[str, int] = {}
        self._rooms: dict[str, RoomPushState] = {}
        # Local events whose actions were written with the event (``actions_before_persist``).
        self._written: set[str] = set()
        account_data.defaults["m.push_rules"] = default_rules

    # Rules ------------------------------------------------------------------------------------

    async def get_ruleset(self, user_id: str) -> JsonDict:
        """The user's effective ruleset ``{"global": {kind: [rule, ...]}}`` (do not modify)."""
        return (await self._cached_rules(user_id))[0]

    async def _cached_rules(self, user_id: str) -> tuple[JsonDict, CompiledRuleset]:
        cached = self._rulesets.get(user_id)
        if cached is None:
            generation = self._generations.get(user_id, 0)
            own = await self.rules.get_user_rules(user_id)
            ruleset = merge_rules(
                default_rules(user_id), own.rules, enabled=own.enabled, actions=own.actions
            )
            cached = (ruleset, compile_ruleset(ruleset))
            if self._generations.get(user_id, 0) == generation:
                self._rulesets[user_id] = cached
        return cached

    async def get_rule(self, user_id: str, kind: str, rule_id: str) -> JsonDict:
        ruleset = await self.get_ruleset(user_id)
        for rule in ruleset["global"].get(kind, []):
            if rule.get("rule_id") == rule_id:
                return dict(rule)
        raise NotFound("The push rule was not found.")

    async def put_rule(
        self,
        user_id: str,
        kind: str,
        rule: JsonDict,
        *,
        before: str | None = None,
        after: str | None = None,
    ) -> None:
        """Create or replace one of the user's own rules ("Push Rules: API", PUT)."""
        own = (await self.rules.get_user_rules(user_id)).rules.get(kind, [])
        rule_id = rule["rule_id"]
        rest = [r for r in own if r.get("rule_id") != rule_id]
        anchor = before if before is not None else after
        if anchor is not None:
            # "If both after and before are provided, the new or updated rule must be the next
            # most important rule with respect to the rule identified by before."
            ids = [r.get("rule_id") for r in rest]
            if anchor not in ids:
                raise UnknownError(f"before/after rule not found: {anchor}")
            index = ids.index(anchor) + (0 if before is not None else 1)
        elif len(rest) < len(own):
            index = next(i for i, r in enumerate(own) if r.get("rule_id") == rule_id)
        else:
            # "If neither after nor before are provided and the rule is created, it should be
            # added as the most important user defined rule among rules of the same kind."
            index = 0
        rest.insert(index, rule)
        # "When creating push rules, they MUST be enabled by default."
        await self.rules.replace_kind(user_id, kind, rest, reset=rule_id)
        await self._changed(user_id)

    async def delete_rule(self, user_id: str, kind: str, rule_id: str) -> None:
        own = (await self.rules.get_user_rules(user_id)).rules.get(kind, [])
        rest = [r for r in own if r.get("rule_id") != rule_id]
        if len(rest) == len(own):
            raise NotFound("The push rule was not found.")
        await self.rules.replace_kind(user_id, kind, rest, reset=rule_id)
        await self._changed(user_id)

    async def set_enabled(self, user_id: str, kind: str, rule_id: str, enabled: bool) -> None:
        await self.get_rule(user_id, kind, rule_id)
        await self.rules.set_enabled(user_id, kind, rule_id, enabled)
        await self._changed(user_id)

    async def set_actions(self, user_id: str, kind: str, rule_id: str, actions: list[Any]) -> None:
        await self.get_rule(user_id, kind, rule_id)
        await self.rules.set_actions(user_id, kind, rule_id, actions)
        await self._changed(user_id)

    async def _changed(self, user_id: str) -> None:
        self._generations[user_id] = self._generations.get(user_id, 0) + 1
        self._rulesets.pop(user_id, None)
        # Clients also see the ruleset as the m.push_rules account data ("Push Rules").
        ruleset = await self.get_ruleset(user_id)
        await self.account_data.set(user_id, "m.push_rules", ruleset, server=True)

    # Counts -----------------------------------------------------------------------------------

    async def on_new_events(self, events: Sequence[Event]) -> None:
        """The room pipeline's listener for locally created events (those whose actions were not
        already written with them)."""
        rest = [e for e in events if e.event_id not in self._written]
        self._written.difference_update(e.event_id for e in events)
        if rest:
            await self.process_events(rest)

    async def actions_before_persist(self, event: Event) -> list[PushAction] | None:
        """The notifying actions of a new local non-state event, evaluated before it is persisted
        (under its room's lock) so they can be written in the event's own transaction; their
        ``stream_ordering`` is filled in then. None for state events: they change the facts
        they are evaluated against (members, power levels), so ``on_new_events`` evaluates them
        once stored."""
        if event.is_state:
            return None
        room = await self._room_state(event, None)
        self._written.add(event.event_id)
        recipients = [u for u in room.local_names if u != event.sender]
        if not recipients:
            return []
        return await self._evaluate(event, 0, room, recipients)

    def forget_unpersisted(self, event: Event) -> None:
        """``event`` from ``actions_before_persist`` was not stored after all."""
        self._written.discard(event.event_id)

    async def process_events(self, events: Sequence[Event]) -> None:
        """Evaluate push rules for new accepted events (local or received over federation) and
        record the notifying ones, in one statement for the batch."""
        found: list[PushAction] = []
        for event in events:
            stream = await self.events.get_stream_ordering(event.event_id)
            if stream is None:
                continue
            room = await self._room_state(event, stream)
            recipients = [u for u in room.local_names if u != event.sender]
            if not recipients:
                continue
            found += await self._evaluate(event, stream, room, recipients)
        await self.actions.add(found)

    async def _evaluate(
        self, event: Event, stream: int, room: RoomPushState, recipients: list[str]
    ) -> list[PushAction]:
        evaluator = EventEvaluator(
            event.pdu,
            room_member_count=len(room.joined),
            sender_power_level=room.level(event.sender),
            notification_levels=room.notification_levels,
            action_levels=room.action_levels,
        )
        thread = _thread_of(event)
        room_id, event_id = event.room_id, event.event_id
        found: list[PushAction] = []
        for user_id in recipients:
            cached = self._rulesets.get(user_id) or await self._cached_rules(user_id)
            rule = evaluator.match(
                cached[1],
                user_id,
                display_name=room.local_names.get(user_id),
                power_level=room.level(user_id),
            )
            # A highlight counts only with ``notify`` (``notification_counts_from_actions``).
            if rule is not None and rule.notify:
                found.append(PushAction(user_id, room_id, event_id, stream, thread, rule.highlight))
        return found

    async def _room_state(self, event: Event, stream: int | None) -> RoomPushState:
        room_id = event.room_id
        if event.is_state and event.type in _CONTEXT_TYPES:
            self._rooms.pop(room_id, None)
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = await self._load_room(room_id)
        if event.type == "m.room.member" and event.is_state and stream is not None:
            room.apply_member(event, stream, self.is_local_user(event.state_key or ""))
        return room

    async def _load_room(self, room_id: str) -> RoomPushState:
        filled_at = self.streams.current
        state_ids = await self.state.get_current_state_ids(room_id)
        members = await self.state.get_members(room_id)
        joined = {user for user, membership in members.items() if membership == "join"}
        local = [user for user in joined if self.is_local_user(user)]
        wanted = [
            state_ids[("m.room.member", u)] for u in local if ("m.room.member", u) in state_ids
        ]
        keys = [k for k in (("m.room.create", ""), ("m.room.power_levels", "")) if k in state_ids]
        loaded = await self.events.get_events([*wanted, *(state_ids[k] for k in keys)])
        auth_map = {k: loaded[state_ids[k]] for k in keys if state_ids[k] in loaded}
        names: dict[str, str | None] = {}
        for user in local:
            member = loaded.get(state_ids.get(("m.room.member", user), ""))
            name = member.content.get("displayname") if member is not None else None
            names[user] = name if isinstance(name, str) else None
        # MSC4506 recipient_permission reads the levels for invite, kick, ban and redact.
        action_levels = {a: get_required_level(auth_map, a) for a in DEFAULT_ACTION_LEVELS}
        pl = auth_map.get(("m.room.power_levels", ""))
        notifications = pl.content.get("notifications") if pl is not None else None
        notification_levels = {
            k: v
            for k, v in (notifications.items() if isinstance(notifications, dict) else [])
            if isinstance(v, int) and not isinstance(v, bool)
        }
        return RoomPushState(
            auth_map=auth_map,
            joined=joined,
            local_names=names,
            notification_levels=notification_levels,
            action_levels=action_levels,
            filled_at=filled_at,
        )

    async def unread_counts(self, user_id: str, room_id: str) -> tuple[int, int]:
        """``(notification_count, highlight_count)`` for sync's ``unread_notifications``."""
        return await self.actions.counts(user_id, room_id)

    async def unread_counts_many(
        self, user_id: str, room_ids: Sequence[str]
    ) -> dict[str, tuple[int, int]]:
        """``unread_counts`` of every room in ``room_ids``, read together."""
        found = await self.actions.counts_many(user_id, room_ids)
        return {room_id: found.get(room_id, (0, 0)) for room_id in room_ids}
