"""Room creation (client-server API "Creation": ``POST /createRoom``).

Events are applied in the order the spec requires: create, the creator's join, power levels
(with ``power_level_content_override``), canonical alias, the preset's join rules / history
visibility / guest access, ``initial_state``, name, topic, then invites. Each is built and
authorised against the state the previous ones made, and all are persisted in one transaction:
a refused request leaves no room behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from transom.core.auth import check_auth
from transom.core.errors import MatrixProtocolError, UnsupportedRoomVersion
from transom.core.events import Event, JsonDict, StateKey
from transom.core.identifiers import UserID
from transom.core.pdu import build_event
from transom.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from transom.services.errors import BadJson, Forbidden, InvalidParam
from transom.services.rooms.events import (
    EventCreator,
    EventDraft,
    RoomContext,
    advance_context,
)
from transom.storage.persist import PersistEntry
from transom.storage.rooms import AliasExistsError

PRESETS: dict[str, tuple[str, str, str]] = {
    # preset: (join_rule, history_visibility, guest_access) — createRoom's preset table.
    "private_chat": ("invite", "shared", "can_join"),
    "trusted_private_chat": ("invite", "shared", "can_join"),
    "public_chat": ("public", "shared", "forbidden"),
}


class RoomInUse(MatrixProtocolError):
    errcode = "M_ROOM_IN_USE"


class InvalidRoomState(MatrixProtocolError):
    errcode = "M_INVALID_ROOM_STATE"


@dataclass(frozen=True, slots=True)
class CreateRoomRequest:
    """The validated body of ``POST /createRoom``."""

    room_version: RoomVersion
    preset: str
    is_public: bool
    name: str | None = None
    topic: str | None = None
    alias_localpart: str | None = None
    invite: tuple[str, ...] = ()
    is_direct: bool = False
    initial_state: tuple[JsonDict, ...] = ()
    creation_content: JsonDict | None = None
    power_level_override: JsonDict | None = None


def parse_create_room(body: Mapping[str, Any], default_version: str) -> CreateRoomRequest:
    """Validate a createRoom body; wrong types are 400 ``M_BAD_JSON``."""
    version_id = body.get("room_version", default_version)
    if not isinstance(version_id, str) or version_id not in KNOWN_ROOM_VERSIONS:
        raise UnsupportedRoomVersion(f"Unsupported room version: {version_id!r}")
    visibility = body.get("visibility", "private")
    if visibility not in ("public", "private"):
        raise BadJson("visibility must be 'public' or 'private'")
    preset = body.get("preset", "public_chat" if visibility == "public" else "private_chat")
    # createRoom: preset is one of the enum strings; any other JSON type is a bad body, not a
    # lookup (a dict or list is unhashable).
    if not isinstance(preset, str) or preset not in PRESETS:
        raise BadJson(f"Unknown preset {preset!r}")
    for key in ("name", "topic", "room_alias_name"):
        if key in body and not isinstance(body[key], str):
            raise BadJson(f"{key} must be a string")
    invite = body.get("invite", [])
    if not isinstance(invite, list) or not all(isinstance(u, str) for u in invite):
        raise BadJson("invite must be a list of user IDs")
    for user_id in invite:
        try:
            UserID.parse(user_id)
        except MatrixProtocolError:
            raise InvalidParam(f"Invalid user ID in invite: {user_id!r}") from None
    initial_state = body.get("initial_state", [])
    if not isinstance(initial_state, list) or not all(
        isinstance(s, dict)
        and isinstance(s.get("type"), str)
        and isinstance(s.get("content"), dict)
        and isinstance(s.get("state_key", ""), str)
        for s in initial_state
    ):
        raise BadJson("initial_state must be a list of {type, state_key, content}")
    for key in ("creation_content", "power_level_content_override"):
        if key in body and not isinstance(body[key], dict):
            raise BadJson(f"{key} must be an object")
    if "is_direct" in body and not isinstance(body["is_direct"], bool):
        raise BadJson("is_direct must be a boolean")
    return CreateRoomRequest(
        room_version=KNOWN_ROOM_VERSIONS[version_id],
        preset=preset,
        is_public=visibility == "public",
        name=body.get("name"),
        topic=body.get("topic"),
        alias_localpart=body.get("room_alias_name"),
        invite=tuple(dict.fromkeys(invite)),
        is_direct=bool(body.get("is_direct", False)),
        initial_state=tuple(initial_state),
        creation_content=body.get("creation_content"),
        power_level_override=body.get("power_level_content_override"),
    )


def default_power_levels(
    room_version: RoomVersion, creator: str, request: CreateRoomRequest
) -> JsonDict:
    """The default ``m.room.power_levels`` of a new room (createRoom step 3)."""
    users: dict[str, int] = {}
    if not room_version.privileged_creators:
        # v1–v11: the creator gets 100; v12 creators have infinite power and are not listed.
        users[creator] = 100
    if request.preset == "trusted_private_chat" and not room_version.privileged_creators:
        for invitee in request.invite:
            users[invitee] = 100
    content: JsonDict = {
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            # v12: tombstone must be explicitly above state_default (createRoom step 3).
            "m.room.tombstone": 150 if room_version.privileged_creators else 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 50,
        "notifications": {"room": 50},
    }
    if request.power_level_override:
        content.update(request.power_level_override)
    return content


class RoomCreator:
    def __init__(
        self,
        creator: EventCreator,
        *,
        profile_lookup: Callable[[str], Any],
    ) -> None:
        self.creator = creator
        self.profile_lookup = profile_lookup
        self._last_create_ts = 0

    def _create_timestamp(self) -> int:
        """A timestamp for a new m.room.create event, strictly increasing within this process.

        Two rooms created by the same user with the same creation content in the same
        millisecond would otherwise have identical create events: in room version 12, where the
        room ID is the create event's reference hash, they would be the same room.
        """
        self._last_create_ts = max(self.creator.clock.time_msec(), self._last_create_ts + 1)
        return self._last_create_ts

    async def create_room(self, user_id: str, request: CreateRoomRequest) -> tuple[str, str | None]:
        """Create the room; returns (room_id, alias or None)."""
        ec = self.creator
        server_name = ec.server_name
        alias = f"#{request.alias_localpart}:{server_name}" if request.alias_localpart else None
        if alias is not None:
            if not request.alias_localpart or ":" in request.alias_localpart or len(alias) > 255:
                raise InvalidParam("Invalid room_alias_name")
            if await ec.rooms.get_alias(alias) is not None:
                raise RoomInUse("Room alias already taken")
        room_version = request.room_version
        create_event = self._build_create(user_id, request)
        room_id = create_event.room_id
        context = RoomContext(room_id, room_version, {}, [], None)
        advance_context(context, create_event)
        events = [create_event]

        async def add(draft: EventDraft) -> None:
            event = await ec.build_and_authorise(context, draft)
            advance_context(context, event)
            events.append(event)

        profile = await self.profile_lookup(user_id)
        join_content: JsonDict = {"membership": "join", **profile}
        await add(EventDraft(user_id, "m.room.member", join_content, user_id))
        await add(
            EventDraft(
                user_id,
                "m.room.power_levels",
                default_power_levels(room_version, user_id, request),
                "",
            )
        )
        if alias is not None:
            await add(EventDraft(user_id, "m.room.canonical_alias", {"alias": alias}, ""))
        join_rule, history, guest = PRESETS[request.preset]
        await add(EventDraft(user_id, "m.room.join_rules", {"join_rule": join_rule}, ""))
        await add(
            EventDraft(user_id, "m.room.history_visibility", {"history_visibility": history}, "")
        )
        await add(EventDraft(user_id, "m.room.guest_access", {"guest_access": guest}, ""))
        for state in request.initial_state:
            await self._add_initial_state(add, user_id, state)
        if request.name is not None:
            await add(EventDraft(user_id, "m.room.name", {"name": request.name}, ""))
        if request.topic is not None:
            await add(EventDraft(user_id, "m.room.topic", {"topic": request.topic}, ""))
        for invitee in request.invite:
            content: JsonDict = {"membership": "invite"}
            if request.is_direct:
                content["is_direct"] = True
            await add(EventDraft(user_id, "m.room.member", content, invitee))
        await self._persist(events)
        if alias is not None:
            try:
                await ec.rooms.create_alias(alias, room_id, user_id)
            except AliasExistsError:
                raise RoomInUse("Room alias already taken") from None
        if request.is_public:
            await ec.rooms.set_public(room_id, True)
        await ec.notify_listeners(events)
        return room_id, alias

    async def _add_initial_state(self, add: Any, user_id: str, state: JsonDict) -> None:
        event_type = state["type"]
        if event_type == "m.room.create":
            raise InvalidRoomState("initial_state may not contain m.room.create")
        try:
            await add(EventDraft(user_id, event_type, state["content"], state.get("state_key", "")))
        except Forbidden as exc:
            raise InvalidRoomState(f"initial_state {event_type}: {exc.message}") from None

    def _build_create(self, user_id: str, request: CreateRoomRequest) -> Event:
        ec = self.creator
        room_version = request.room_version
        content: JsonDict = dict(request.creation_content or {})
        content["room_version"] = room_version.identifier
        content.pop("creator", None)
        if not room_version.implicit_room_creator:
            content["creator"] = user_id  # v1–v10: the creator is named in content
        if room_version.privileged_creators and request.preset == "trusted_private_chat":
            extra = content.get("additional_creators", [])
            if not isinstance(extra, list):
                raise BadJson("additional_creators must be a list")
            content["additional_creators"] = list(dict.fromkeys([*extra, *request.invite]))
        room_id: str | None = None
        if not room_version.room_id_is_create_hash:
            room_id = f"!{secrets.token_urlsafe(18)}:{ec.server_name}"
        event = build_event(
            room_version=room_version,
            room_id=room_id,
            sender=user_id,
            event_type="m.room.create",
            content=content,
            state_key="",
            prev_events=[],
            auth_events=[],
            depth=1,
            origin_server_ts=self._create_timestamp(),
            origin=ec.server_name,
            signing_key=ec.signing_key,
            event_id_v1=ec.v1_event_id(room_version),
        )
        failure = check_auth(event, {})
        if failure is not None:
            raise InvalidRoomState(failure.reason)
        return event

    async def _persist(self, events: list[Event]) -> None:
        state: dict[StateKey, str] = {}
        entries: list[PersistEntry] = []
        for event in events:
            if event.is_state:
                state[event.state_tuple] = event.event_id
            entries.append(
                PersistEntry(
                    event=event,
                    state_after=dict(state),
                    base_entry=entries[-1] if entries else None,
                    new_extremities=[event.event_id],
                )
            )
        async with self.creator.locks.lock(events[0].room_id):
            await self.creator.persister.persist(entries)
