"""Stripped state: the few state events that let a would-be member recognise a room.

Spec: client-server API "Stripped state" (`content/client-server-api/_index.md`): a stripped
state event has only ``sender``, ``type``, ``state_key`` and ``content``; the recommended events
are ``m.room.create``, ``m.room.name``, ``m.room.avatar``, ``m.room.topic``,
``m.room.join_rules``, ``m.room.canonical_alias`` and ``m.room.encryption``. Since spec v1.16
(MSC4311) ``m.room.create`` is required in ``invite_state``/``knock_state`` and in
``invite_room_state``/``knock_room_state``, and federation carries those as full PDUs formatted
for the room version (server-server API "Inviting to a room", "Knocking upon a room"), which
``stripped_state_events`` selects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from transom.core.events import Event, JsonDict, StateKey

# Spec "Stripped state": the recommended list, in the spec's order; m.room.create is always
# first in the output (required since v1.16).
DEFAULT_STRIPPED_STATE_TYPES: tuple[str, ...] = (
    "m.room.create",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.room.encryption",
)


def strip_event(event: Event) -> JsonDict:
    """The stripped form of a state event: exactly ``type``, ``state_key``, ``sender``,
    ``content`` (spec "Stripped state")."""
    return {
        "type": event.type,
        "state_key": event.state_key or "",
        "sender": event.sender,
        "content": dict(event.content),
    }


def stripped_state_events(
    current_state: Mapping[StateKey, Event], extra_types: Iterable[str] = ()
) -> list[Event]:
    """The state events that make up stripped state, as full events.

    The default types are taken with the empty state key; each of ``extra_types`` (for example
    a server's configured extra prejoin types) with every state key, sorted by state key. The
    create event comes first, then the default types in the spec's order, then the extras in
    the order given; each event appears once.
    """
    selected: list[Event] = []
    seen: set[str] = set()

    def add(event: Event | None) -> None:
        if event is not None and event.event_id not in seen:
            seen.add(event.event_id)
            selected.append(event)

    for event_type in DEFAULT_STRIPPED_STATE_TYPES:
        add(current_state.get((event_type, "")))
    for event_type in dict.fromkeys(extra_types):
        for key in sorted(k for k in current_state if k[0] == event_type):
            add(current_state[key])
    return selected


def stripped_state(
    current_state: Mapping[StateKey, Event], extra_types: Iterable[str] = ()
) -> list[JsonDict]:
    """Stripped state for ``invite_state``/``knock_state`` on /sync and for clients
    (spec "Stripped state"); the same selection and order as ``stripped_state_events``."""
    return [strip_event(event) for event in stripped_state_events(current_state, extra_types)]
