"""Event filters (client-server API "Filtering"; OpenAPI ``definitions/sync_filter.yaml``,
``event_filter.yaml``, ``room_event_filter.yaml``) and "Lazy-loading room members".

``parse_filter(json) -> Filter`` validates a filter definition (``BadJson`` on a malformed one)
and gives typed access to its parts; ``parse_room_event_filter(text)`` does the same for the
``RoomEventFilter`` JSON that ``/messages`` and ``/context`` take in their ``filter`` query
parameter, so those endpoints honour every field exactly as ``/sync`` does. Every part has
``matches(event)``, taking a client-format event dict or a ``transom.core.events.Event``. Room
versions: filters do not depend on the room version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from transom.core.events import Event
from transom.services.errors import BadJson

# Spec "Filtering": "servers should apply a default value, and impose a maximum value".
DEFAULT_TIMELINE_LIMIT = 10
MAX_LIMIT = 1000


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    # Spec EventFilter.types: "A '*' can be used as a wildcard to match any sequence of
    # characters."
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")


def _type_matches(event_type: str, patterns: Sequence[str]) -> bool:
    return any(p == event_type or ("*" in p and _glob(p).match(event_type)) for p in patterns)


def _fields(event: Event | dict[str, Any]) -> tuple[str, str, str, Mapping[str, Any]]:
    if isinstance(event, Event):
        return event.type, event.sender, event.room_id, event.content
    content = event.get("content")
    return (
        str(event.get("type", "")),
        str(event.get("sender", "")),
        str(event.get("room_id", "")),
        content if isinstance(content, dict) else {},
    )


def _str_list(data: dict[str, Any], key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadJson(f"Filter field '{key}' must be a list of strings")
    return tuple(value)


def _bool(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise BadJson(f"Filter field '{key}' must be a boolean")
    return value


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise BadJson(f"Filter field '{key}' must be an object")
    return value


def _limit(data: dict[str, Any]) -> int | None:
    value = data.get("limit")
    if value is None:
        return None
    # Spec EventFilter.limit: "must be an integer greater than 0".
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadJson("Filter field 'limit' must be an integer greater than 0")
    return min(value, MAX_LIMIT)


@dataclass(frozen=True)
class EventFilter:
    """Spec ``EventFilter``: limit, types/not_types (``*`` globs), senders/not_senders."""

    limit: int | None = None
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: dict[str, Any]) -> EventFilter:
        return cls(**_event_filter_fields(data))

    def matches(self, event: Event | dict[str, Any]) -> bool:
        event_type, sender, _, _ = _fields(event)
        return self._matches(event_type, sender)

    def _matches(self, event_type: str, sender: str) -> bool:
        # Spec: "not_*" lists take precedence over the inclusion lists.
        if sender in self.not_senders:
            return False
        if self.senders is not None and sender not in self.senders:
            return False
        if self.not_types and _type_matches(event_type, self.not_types):
            return False
        return self.types is None or _type_matches(event_type, self.types)

    @property
    def matches_nothing(self) -> bool:
        """True when ``types`` is an empty list: "If this list is absent then all event types
        are included", so an empty list includes none."""
        return self.types == ()


def _event_filter_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "limit": _limit(data),
        "types": _str_list(data, "types"),
        "not_types": _str_list(data, "not_types") or (),
        "senders": _str_list(data, "senders"),
        "not_senders": _str_list(data, "not_senders") or (),
    }


@dataclass(frozen=True)
class RoomEventFilter(EventFilter):
    """Spec ``RoomEventFilter`` (also ``StateFilter``): an EventFilter plus rooms/not_rooms,
    ``contains_url``, ``lazy_load_members``, ``include_redundant_members``,
    ``unread_thread_notifications``."""

    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False

    @classmethod
    def parse(cls, data: dict[str, Any]) -> RoomEventFilter:
        contains_url = data.get("contains_url")
        if contains_url is not None and not isinstance(contains_url, bool):
            raise BadJson("Filter field 'contains_url' must be a boolean")
        return cls(
            **_event_filter_fields(data),
            rooms=_str_list(data, "rooms"),
            not_rooms=_str_list(data, "not_rooms") or (),
            contains_url=contains_url,
            lazy_load_members=_bool(data, "lazy_load_members", False),
            include_redundant_members=_bool(data, "include_redundant_members", False),
            unread_thread_notifications=_bool(data, "unread_thread_notifications", False),
        )

    def matches(self, event: Event | dict[str, Any]) -> bool:
        event_type, sender, room_id, content = _fields(event)
        if not self._matches(event_type, sender):
            return False
        if not self.allows_room(room_id):
            return False
        if self.contains_url is not None:
            # Spec: "If true, includes only events with a url key in their content."
            has_url = isinstance(content.get("url"), str)
            if has_url != self.contains_url:
                return False
        return True

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms


StateFilter = RoomEventFilter


@dataclass(frozen=True)
class RoomFilter:
    """Spec ``RoomFilter``: the room-scoped parts of a sync filter. Its own ``rooms`` /
    ``not_rooms`` pick the rooms of the whole response; those of its ``timeline``, ``state``,
    ``ephemeral`` and ``account_data`` RoomEventFilters each pick the rooms of that section
    only (``/sync`` asks each one's ``allows_room``)."""

    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False
    timeline: RoomEventFilter = field(default_factory=RoomEventFilter)
    state: RoomEventFilter = field(default_factory=RoomEventFilter)
    ephemeral: RoomEventFilter = field(default_factory=RoomEventFilter)
    account_data: RoomEventFilter = field(default_factory=RoomEventFilter)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> RoomFilter:
        return cls(
            rooms=_str_list(data, "rooms"),
            not_rooms=_str_list(data, "not_rooms") or (),
            include_leave=_bool(data, "include_leave", False),
            timeline=RoomEventFilter.parse(_object(data, "timeline")),
            state=RoomEventFilter.parse(_object(data, "state")),
            ephemeral=RoomEventFilter.parse(_object(data, "ephemeral")),
            account_data=RoomEventFilter.parse(_object(data, "account_data")),
        )

    def allows_room(self, room_id: str) -> bool:
        # Spec RoomFilter.not_rooms: "applied before the rooms filter" and to every section.
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    @property
    def timeline_limit(self) -> int:
        return self.timeline.limit or DEFAULT_TIMELINE_LIMIT

    @property
    def lazy_load_members(self) -> bool:
        # Spec: lazy-loading applies to the ``state`` part of a RoomFilter on /sync.
        return self.state.lazy_load_members

    @property
    def include_redundant_members(self) -> bool:
        return self.state.include_redundant_members


@dataclass(frozen=True)
class Filter:
    """Spec ``Filter`` (the body of ``POST /user/{userId}/filter``)."""

    room: RoomFilter = field(default_factory=RoomFilter)
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)
    event_format: str = "client"
    event_fields: tuple[str, ...] | None = None

    # Convenience views used by /sync and /messages.
    @property
    def include_leave(self) -> bool:
        return self.room.include_leave

    @property
    def rooms(self) -> tuple[str, ...] | None:
        return self.room.rooms

    @property
    def not_rooms(self) -> tuple[str, ...]:
        return self.room.not_rooms

    @property
    def lazy_load_members(self) -> bool:
        return self.room.lazy_load_members

    @property
    def include_redundant_members(self) -> bool:
        return self.room.include_redundant_members

    @property
    def limit(self) -> int:
        return self.room.timeline_limit


def parse_filter(data: Any) -> Filter:
    """Validate and parse a filter definition; ``BadJson`` when it is malformed."""
    if not isinstance(data, dict):
        raise BadJson("A filter must be a JSON object")
    event_format = data.get("event_format", "client")
    # Spec Filter.event_format: one of "client", "federation".
    if event_format not in ("client", "federation"):
        raise BadJson("Filter field 'event_format' must be 'client' or 'federation'")
    return Filter(
        room=RoomFilter.parse(_object(data, "room")),
        presence=EventFilter.parse(_object(data, "presence")),
        account_data=EventFilter.parse(_object(data, "account_data")),
        event_format=event_format,
        event_fields=_str_list(data, "event_fields"),
    )


DEFAULT_FILTER = Filter()


def parse_room_event_filter(text: str | None) -> RoomEventFilter:
    """A ``RoomEventFilter`` given as JSON text (the ``filter`` query parameter of
    ``GET /rooms/{roomId}/messages`` and ``/context/{eventId}``; client-server API "Getting
    events for a room"). Absent or empty: no filtering. 400 ``M_BAD_JSON`` when the text is not
    a JSON object or a field has the wrong type or value (the endpoints' OpenAPI definitions
    name no error for it; ``M_BAD_JSON`` is the common code for "invalid values for keys")."""
    if text is None or text == "":
        return RoomEventFilter()
    try:
        data = json.loads(text)
    except ValueError:
        raise BadJson("'filter' is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadJson("'filter' must be a JSON object")
    return RoomEventFilter.parse(data)
