"""The in-memory form of a PDU (server-server API, "PDUs"; room versions' "Event format").

An ``Event`` wraps the PDU JSON exactly as it was signed and gives typed access to the keys every
layer reads. It never changes the JSON: ``pdu`` is what is hashed, signed, stored and sent, so
callers must treat it as read-only. Building and validating PDUs lives in ``transom.core.pdu``;
hashing and IDs in ``transom.core.hashing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transom.core.room_versions import EventFormat, RoomVersion

JsonDict = dict[str, Any]
StateKey = tuple[str, str]  # (type, state_key)


class Event:
    """One PDU of a known room version, with its event ID."""

    __slots__ = ("event_id", "pdu", "room_version")

    def __init__(self, pdu: JsonDict, room_version: RoomVersion, event_id: str) -> None:
        self.pdu = pdu
        self.room_version = room_version
        self.event_id = event_id

    def __repr__(self) -> str:
        return f"<Event {self.event_id} {self.type} {self.state_key!r} from {self.sender}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other.event_id == self.event_id

    def __hash__(self) -> int:
        return hash(self.event_id)

    # Keys common to every format -------------------------------------------------------------

    @property
    def room_id(self) -> str:
        room_id = self.pdu.get("room_id")
        if room_id is None and self.room_version.room_id_is_create_hash and self.is_create:
            # v12: the create event has no room_id; the room ID is its event ID with `!`.
            return "!" + self.event_id[1:]
        return str(room_id)

    @property
    def type(self) -> str:
        return str(self.pdu["type"])

    @property
    def state_key(self) -> str | None:
        value = self.pdu.get("state_key")
        return value if isinstance(value, str) else None

    @property
    def is_state(self) -> bool:
        return "state_key" in self.pdu

    @property
    def state_tuple(self) -> StateKey:
        """``(type, state_key)``; only meaningful for state events."""
        return (self.type, self.state_key or "")

    @property
    def is_create(self) -> bool:
        return self.pdu.get("type") == "m.room.create" and self.pdu.get("state_key") == ""

    @property
    def sender(self) -> str:
        return str(self.pdu["sender"])

    @property
    def origin_server_ts(self) -> int:
        return int(self.pdu.get("origin_server_ts", 0))

    @property
    def depth(self) -> int:
        return int(self.pdu.get("depth", 0))

    @property
    def content(self) -> Mapping[str, Any]:
        content = self.pdu.get("content")
        return content if isinstance(content, dict) else {}

    @property
    def unsigned(self) -> Mapping[str, Any]:
        unsigned = self.pdu.get("unsigned")
        return unsigned if isinstance(unsigned, dict) else {}

    @property
    def signatures(self) -> Mapping[str, Mapping[str, str]]:
        sigs = self.pdu.get("signatures")
        return sigs if isinstance(sigs, dict) else {}

    @property
    def membership(self) -> str | None:
        """``content.membership`` of an ``m.room.member`` event, else None."""
        if self.type != "m.room.member":
            return None
        value = self.content.get("membership")
        return value if isinstance(value, str) else None

    # Keys whose shape depends on the room version ---------------------------------------------

    @property
    def prev_event_ids(self) -> list[str]:
        return _event_refs(self.pdu.get("prev_events"), self.room_version)

    @property
    def auth_event_ids(self) -> list[str]:
        return _event_refs(self.pdu.get("auth_events"), self.room_version)

    @property
    def redacts(self) -> str | None:
        """The event an ``m.room.redaction`` redacts: in ``content`` from v11, top-level before."""
        if self.type != "m.room.redaction":
            return None
        if self.room_version.redacts_in_content:
            value = self.content.get("redacts")
        else:
            value = self.pdu.get("redacts")
        return value if isinstance(value, str) else None


def _event_refs(value: Any, room_version: RoomVersion) -> list[str]:
    """Event IDs from ``prev_events``/``auth_events`` in either format."""
    if not isinstance(value, list):
        return []
    if room_version.event_format is EventFormat.V1:
        # v1, v2: each entry is [event_id, {"sha256": ...}].
        return [str(entry[0]) for entry in value if isinstance(entry, list) and entry]
    return [str(entry) for entry in value if isinstance(entry, str)]
