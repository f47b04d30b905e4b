"""Responses of the main Client-Server API endpoints validated against the official OpenAPI
description (matrix-spec v1.19 ``client-server.bundled.json``, OpenAPI 3.1, whose schemas are
JSON Schema 2020-12). Each response schema is located by path template, method and status code
in the bundle; the Matrix string formats (``mx-user-id``, ``mx-room-id``, ``mx-event-id``, ...)
and ``int64`` are checked too, so a wrongly shaped identifier fails as well as a missing field.
Room events in those responses are also validated against their event type's schema
(``data/event-schemas/schema/<type>.yaml``: m.room.create, m.room.member, m.room.power_levels,
...)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import jsonschema
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ServerHandle = Any
V3 = "/_matrix/client/v3"

# Appendices, "Identifier Grammar": room IDs lost their ":server" suffix in room version 12.
_FORMATS: dict[str, re.Pattern[str]] = {
    "mx-user-id": re.compile(r"^@[^:]+:.+$"),
    "mx-room-id": re.compile(r"^![^:]+(:.+)?$"),
    "mx-event-id": re.compile(r"^\$.+$"),
    "mx-room-alias": re.compile(r"^#[^:]+:.+$"),
    "mx-server-name": re.compile(r"^[A-Za-z0-9.\-:\[\]]+$"),
    "mx-mxc-uri": re.compile(r"^mxc://[^/]+/.+$"),
}


STANDARD_ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {"errcode": {"type": "string"}, "error": {"type": "string"}},
    "required": ["errcode"],
}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, pattern in _FORMATS.items():
        checker.checks(name)(
            functools.partial(lambda p, v: not isinstance(v, str) or bool(p.match(v)), pattern)
        )
    checker.checks("int64")(
        lambda v: not isinstance(v, int) or isinstance(v, bool) or -(2**63) <= v < 2**63
    )
    return checker


@pytest.fixture(scope="module")
def bundle(spec_dir: Path) -> dict[str, Any]:
    with open(spec_dir / "client-server.bundled.json") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


@pytest.fixture(scope="module")
def event_schemas(spec_dir: Path) -> Path:
    return spec_dir / "data" / "event-schemas" / "schema"


@functools.cache
def _retrieve_yaml(uri: str) -> Resource[Any]:
    """Event schemas $ref each other by relative YAML file names."""
    path = Path(urlparse(uri).path)
    return Resource.from_contents(
        yaml.safe_load(path.read_text()), default_specification=DRAFT202012
    )


class Api:
    """Requests that validate their response against the spec's schema for that status."""

    def __init__(
        self, server: ServerHandle, bundle: dict[str, Any], event_schemas: Path | None = None
    ) -> None:
        self.server = server
        self.bundle = bundle
        self.checker = _format_checker()
        self.validated: list[tuple[str, str, int]] = []
        self.event_schemas = event_schemas
        self.registry: Registry[Any] = Registry(retrieve=_retrieve_yaml)
        self.event_types_checked: set[str] = set()

    def check_events(self, events: list[dict[str, Any]], room_id: str | None = None) -> None:
        """Validate each event against its type's schema (sync events get their room_id)."""
        assert self.event_schemas is not None
        for event in events:
            schema_file = self.event_schemas / f"{event['type']}.yaml"
            if not schema_file.is_file():
                continue
            full = {"room_id": room_id, **event} if room_id else event
            validator = self._event_validator(schema_file.as_uri())
            errors = list(validator.iter_errors(full))
            assert not errors, f"{event['type']} event does not match its schema:\n" + "\n".join(
                f"  at {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
                for e in errors[:10]
            )
            self.event_types_checked.add(event["type"])

    @functools.cache  # noqa: B019  (one Api per test)
    def _event_validator(self, uri: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": uri}, registry=self.registry, format_checker=self.checker
        )

    def schema_for(self, method: str, template: str, status: int) -> dict[str, Any]:
        operation = self.bundle["paths"].get(template, {}).get(method.lower())
        assert operation is not None, f"{method} {template} is not in the spec bundle"
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {template} documents no {status} response"
        if "content" not in response and status >= 400:
            # Client-Server API, "Standard error response": errors are JSON objects with an
            # errcode, even where an endpoint's description leaves the body undocumented.
            return STANDARD_ERROR
        schema: dict[str, Any] = response["content"]["application/json"]["schema"]
        return schema

    async def call(
        self,
        method: str,
        template: str,
        token: str | None = None,
        status: int = 200,
        json: Any = None,
        params: dict[str, str] | None = None,
        **path_params: str,
    ) -> Any:
        path = re.sub(r"\{(\w+)\}", lambda m: quote(path_params[m.group(1)], safe=""), template)
        got, body = await self.server.request(method, path, token, json=json, params=params)
        assert got == status, f"{method} {path}: {got} {body}"
        schema = self.schema_for(method, template, status)
        validator = Draft202012Validator(schema, format_checker=self.checker)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{method} {template} {status} does not match the spec:\n" + "\n".join(
            f"  at {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
            for e in errors[:20]
        )
        self.validated.append((method, template, status))
        return body


def test_format_checker_rejects_wrong_identifiers() -> None:
    schema = {
        "type": "object",
        "properties": {"u": {"type": "string", "format": "mx-user-id"}},
    }
    validator = Draft202012Validator(schema, format_checker=_format_checker())
    assert validator.is_valid({"u": "@a:b"})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"u": "a:b"})


def test_event_schema_check_rejects_a_bad_member_event(event_schemas: Path) -> None:
    api = Api(None, {}, event_schemas)
    good = {
        "type": "m.room.member", "state_key": "@b:x", "sender": "@b:x", "event_id": "$e",
        "origin_server_ts": 1, "room_id": "!r:x", "content": {"membership": "knock"},
    }  # fmt: skip
    api.check_events([good])
    with pytest.raises(AssertionError, match="membership"):
        api.check_events([{**good, "content": {"membership": "knocked"}}])
    with pytest.raises(AssertionError, match="sender"):
        api.check_events([{**good, "sender": "b"}])


async def register(api: Api, localpart: str) -> tuple[str, str]:
    body = await api.call(
        "POST",
        f"{V3}/register",
        json={"username": localpart, "password": "pw", "auth": {"type": "m.login.dummy"}},
    )
    return body["user_id"], body["access_token"]


async def test_account_and_discovery_endpoints(make_server: Any, bundle: dict[str, Any]) -> None:
    server = await make_server(
        enable_registration=True, enable_registration_without_verification=True
    )
    api = Api(server, bundle)
    await api.call("GET", "/_matrix/client/versions")
    # User-Interactive Authentication: the first /register answers 401 with the flows.
    uia = await api.call(
        "POST", f"{V3}/register", status=401, json={"username": "alice", "password": "pw"}
    )
    assert any("m.login.dummy" in flow["stages"] for flow in uia["flows"])
    alice, token = await register(api, "alice")
    await api.call("GET", f"{V3}/login")
    login = await api.call(
        "POST",
        f"{V3}/login",
        json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "pw",
        },
    )
    assert login["user_id"] == alice
    await api.call("POST", f"{V3}/login", status=403, json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
        "password": "wrong",
    })  # fmt: skip
    whoami = await api.call("GET", f"{V3}/account/whoami", token)
    assert whoami["user_id"] == alice
    caps = await api.call("GET", f"{V3}/capabilities", token)
    assert "m.room_versions" in caps["capabilities"]
    await api.call("GET", f"{V3}/joined_rooms", token)
    await api.call(
        "PUT", f"{V3}/profile/{{userId}}/{{keyName}}", token,
        json={"displayname": "Alice"}, userId=alice, keyName="displayname",
    )  # fmt: skip
    profile = await api.call("GET", f"{V3}/profile/{{userId}}", userId=alice)
    assert profile["displayname"] == "Alice"
    await api.call(
        "GET", f"{V3}/profile/{{userId}}/{{keyName}}", userId=alice, keyName="displayname"
    )
    await api.call("GET", f"{V3}/profile/{{userId}}", status=404, userId="@nobody:test.local")
    await api.call("GET", f"{V3}/pushrules/", token)
    await api.call("GET", f"{V3}/pushrules/global/", token)
    await api.call("GET", f"{V3}/account/whoami", status=401)


@pytest.mark.parametrize("room_version", ["10", "12"])
async def test_room_endpoints(
    make_server: Any, bundle: dict[str, Any], event_schemas: Path, room_version: str
) -> None:
    server = await make_server(
        enable_registration=True, enable_registration_without_verification=True
    )
    api = Api(server, bundle, event_schemas)
    alice, alice_token = await register(api, "alice")
    bob, bob_token = await register(api, "bob")
    carol, carol_token = await register(api, "carol")

    created = await api.call(
        "POST",
        f"{V3}/createRoom",
        alice_token,
        json={
            "name": "Knock room",
            "topic": "a topic",
            "room_alias_name": "knockroom",
            "visibility": "public",
            "room_version": room_version,
            "initial_state": [
                {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
            ],
        },
    )
    room_id = created["room_id"]
    event_ids = []
    for i in range(3):
        sent = await api.call(
            "PUT", f"{V3}/rooms/{{roomId}}/send/{{eventType}}/{{txnId}}", alice_token,
            json={"msgtype": "m.text", "body": f"message {i}"},
            roomId=room_id, eventType="m.room.message", txnId=f"t{i}",
        )  # fmt: skip
        event_ids.append(sent["event_id"])

    # Knocking on rooms (v7+): a refused knock and an accepted one.
    invite_only = await api.call("POST", f"{V3}/createRoom", alice_token, json={})
    await api.call(
        "POST", f"{V3}/knock/{{roomIdOrAlias}}", bob_token, status=403, json={},
        roomIdOrAlias=invite_only["room_id"],
    )  # fmt: skip
    await api.call(
        "POST", f"{V3}/knock/{{roomIdOrAlias}}", bob_token, status=404, json={},
        roomIdOrAlias="#nowhere:test.local",
    )  # fmt: skip
    knocked = await api.call(
        "POST", f"{V3}/knock/{{roomIdOrAlias}}", bob_token, json={"reason": "let me in"},
        params={"via": "test.local"}, roomIdOrAlias="#knockroom:test.local",
    )  # fmt: skip
    assert knocked["room_id"] == room_id

    summary = await api.call(
        "GET", "/_matrix/client/v1/room_summary/{roomIdOrAlias}", carol_token,
        roomIdOrAlias=room_id,
    )  # fmt: skip
    assert summary["join_rule"] == "knock"
    mine = await api.call(
        "GET", "/_matrix/client/v1/room_summary/{roomIdOrAlias}", bob_token,
        roomIdOrAlias="#knockroom:test.local",
    )  # fmt: skip
    assert mine.get("membership") == "knock"

    public = await api.call("GET", f"{V3}/publicRooms")
    chunk = next(c for c in public["chunk"] if c["room_id"] == room_id)
    assert chunk["join_rule"] == "knock"
    await api.call("POST", f"{V3}/publicRooms", carol_token, json={"limit": 5, "filter": {}})

    state = await api.call("GET", f"{V3}/rooms/{{roomId}}/state", alice_token, roomId=room_id)
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob for e in state)
    api.check_events(state)
    await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/state/{{eventType}}/{{stateKey}}", alice_token,
        roomId=room_id, eventType="m.room.join_rules", stateKey="",
    )  # fmt: skip
    await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/state/{{eventType}}/{{stateKey}}", alice_token,
        status=404, roomId=room_id, eventType="m.room.nothing", stateKey="",
    )  # fmt: skip
    members = await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/members", alice_token,
        params={"membership": "knock"}, roomId=room_id,
    )  # fmt: skip
    assert [e["state_key"] for e in members["chunk"]] == [bob]
    joined_members = await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/joined_members", alice_token, roomId=room_id
    )
    assert set(joined_members["joined"]) == {alice}
    await api.call("GET", f"{V3}/rooms/{{roomId}}/members", carol_token, status=403, roomId=room_id)
    event = await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/event/{{eventId}}", alice_token,
        roomId=room_id, eventId=event_ids[1],
    )  # fmt: skip
    assert event["content"]["body"] == "message 1"
    await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/event/{{eventId}}", alice_token, status=404,
        roomId=room_id, eventId="$doesnotexist",
    )  # fmt: skip
    context = await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/context/{{eventId}}", alice_token,
        params={"limit": "4"}, roomId=room_id, eventId=event_ids[1],
    )  # fmt: skip
    assert context["event"]["event_id"] == event_ids[1]
    api.check_events([context["event"], *context["events_before"], *context["events_after"]])
    api.check_events(context["state"])
    back = await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/messages", alice_token,
        params={"dir": "b", "limit": "2"}, roomId=room_id,
    )  # fmt: skip
    assert len(back["chunk"]) == 2
    api.check_events(back["chunk"])
    forward = await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/messages", alice_token,
        params={"dir": "f", "from": back["end"], "limit": "50"}, roomId=room_id,
    )  # fmt: skip
    assert isinstance(forward["chunk"], list)
    api.check_events(forward["chunk"] + forward.get("state", []))
    await api.call(
        "GET", f"{V3}/rooms/{{roomId}}/messages", carol_token, status=403,
        params={"dir": "b"}, roomId=room_id,
    )  # fmt: skip

    # Accept the knock: invite, then join (both documented with {} bodies).
    await api.call(
        "POST", f"{V3}/rooms/{{roomId}}/invite", alice_token, json={"user_id": bob},
        roomId=room_id,
    )  # fmt: skip
    joined = await api.call(
        "POST", f"{V3}/join/{{roomIdOrAlias}}", bob_token, json={}, roomIdOrAlias=room_id
    )
    assert joined["room_id"] == room_id
    await api.call("POST", f"{V3}/rooms/{{roomId}}/leave", bob_token, json={}, roomId=room_id)
    await api.call(
        "POST", f"{V3}/rooms/{{roomId}}/ban", alice_token,
        json={"user_id": carol, "reason": "no"}, roomId=room_id,
    )  # fmt: skip
    tags = f"{V3}/user/{{userId}}/rooms/{{roomId}}/tags"
    await api.call(
        "PUT", tags + "/{tag}", alice_token, json={"order": 0.5},
        userId=alice, roomId=room_id, tag="u.work",
    )  # fmt: skip
    tagged = await api.call("GET", tags, alice_token, userId=alice, roomId=room_id)
    assert tagged["tags"] == {"u.work": {"order": 0.5}}
    rooms = await api.call("GET", f"{V3}/joined_rooms", alice_token)
    assert set(rooms["joined_rooms"]) == {room_id, invite_only["room_id"]}
    assert len(api.validated) > 25
    after = await api.call("GET", f"{V3}/rooms/{{roomId}}/state", alice_token, roomId=room_id)
    api.check_events(after)
    expected = {"m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules"}
    assert expected | {"m.room.message", "m.room.name"} <= api.event_types_checked


@pytest.mark.parametrize("room_version", ["10", "12"])
async def test_sync_sections_initial_and_incremental(
    make_server: Any, bundle: dict[str, Any], event_schemas: Path, room_version: str
) -> None:
    server = await make_server(
        enable_registration=True, enable_registration_without_verification=True
    )
    api = Api(server, bundle, event_schemas)

    def check_joined(sync: dict[str, Any]) -> None:
        for room_id, room in sync["rooms"]["join"].items():
            events = room["timeline"]["events"] + room["state"]["events"]
            api.check_events(events, room_id)

    _alice, alice_token = await register(api, "alice")
    bob, bob_token = await register(api, "bob")

    async def room(join_rule: str) -> str:
        body = await api.call(
            "POST", f"{V3}/createRoom", alice_token,
            json={"room_version": room_version, "name": f"{join_rule} room", "initial_state": [
                {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": join_rule}}
            ]},
        )  # fmt: skip
        room_id: str = body["room_id"]
        return room_id

    async def post(token: str, template: str, room_id: str, body: dict[str, Any]) -> None:
        await api.call("POST", V3 + template, token, json=body, roomId=room_id,
                       roomIdOrAlias=room_id)  # fmt: skip

    joined, invited, knocked, left = [
        await room(r) for r in ("public", "invite", "knock", "public")
    ]
    await post(bob_token, "/join/{roomIdOrAlias}", joined, {})
    await post(alice_token, "/rooms/{roomId}/invite", invited, {"user_id": bob})
    await post(bob_token, "/knock/{roomIdOrAlias}", knocked, {"reason": "hello"})
    await post(bob_token, "/join/{roomIdOrAlias}", left, {})
    await post(alice_token, "/rooms/{roomId}/kick", left, {"user_id": bob, "reason": "bye"})

    include_leave = json.dumps({"room": {"include_leave": True}})
    initial = await api.call(
        "GET", f"{V3}/sync", bob_token, params={"filter": include_leave, "timeout": "0"}
    )
    rooms = initial["rooms"]
    assert joined in rooms["join"]
    assert invited in rooms["invite"]
    assert knocked in rooms["knock"]
    assert left in rooms["leave"]
    check_joined(initial)

    # Incremental: a message, a new invite, a new knock and a ban since the last batch.
    joined2, invited2, knocked2, left2 = [
        await room(r) for r in ("public", "invite", "knock", "public")
    ]
    await post(bob_token, "/join/{roomIdOrAlias}", left2, {})
    since = initial["next_batch"]
    await api.call(
        "PUT", f"{V3}/rooms/{{roomId}}/send/{{eventType}}/{{txnId}}", alice_token,
        json={"msgtype": "m.text", "body": "hi bob"},
        roomId=joined, eventType="m.room.message", txnId="inc1",
    )  # fmt: skip
    await post(alice_token, "/rooms/{roomId}/invite", invited2, {"user_id": bob})
    await post(bob_token, "/knock/{roomIdOrAlias}", knocked2, {"reason": "again"})
    await post(alice_token, "/rooms/{roomId}/ban", left2, {"user_id": bob, "reason": "out"})
    await post(alice_token, "/rooms/{roomId}/kick", knocked, {"user_id": bob})
    incremental = await api.call(
        "GET", f"{V3}/sync", bob_token,
        params={"since": since, "filter": include_leave, "timeout": "0"},
    )  # fmt: skip
    rooms = incremental["rooms"]
    assert joined in rooms["join"]
    assert invited2 in rooms["invite"]
    assert knocked2 in rooms["knock"]
    assert {left2, knocked} <= set(rooms["leave"])
    assert joined2 not in rooms["join"]
    check_joined(incremental)
    # The moderator's view of the same rooms.
    check_joined(await api.call("GET", f"{V3}/sync", alice_token, params={"timeout": "0"}))
    assert {"m.room.create", "m.room.member", "m.room.message"} <= api.event_types_checked


async def test_more_endpoints(make_server: Any, bundle: dict[str, Any]) -> None:
    server = await make_server(
        enable_registration=True, enable_registration_without_verification=True
    )
    api = Api(server, bundle)
    alice, token = await register(api, "alice")
    bob, bob_token = await register(api, "bob")
    await api.call("GET", "/.well-known/matrix/client")
    available = await api.call("GET", f"{V3}/register/available", params={"username": "zed"})
    assert available["available"] is True
    await api.call("GET", f"{V3}/register/available", status=400, params={"username": "alice"})

    devices = await api.call("GET", f"{V3}/devices", token)
    device_id = devices["devices"][0]["device_id"]
    await api.call("GET", f"{V3}/devices/{{deviceId}}", token, deviceId=device_id)
    await api.call(
        "PUT", f"{V3}/devices/{{deviceId}}", token, json={"display_name": "laptop"},
        deviceId=device_id,
    )  # fmt: skip
    await api.call("GET", f"{V3}/devices/{{deviceId}}", token, status=404, deviceId="NOPE")

    created = await api.call("POST", f"{V3}/user/{{userId}}/filter", token, json={
        "room": {"timeline": {"limit": 3}}, "event_fields": ["type", "content"],
    }, userId=alice)  # fmt: skip
    await api.call(
        "GET", f"{V3}/user/{{userId}}/filter/{{filterId}}", token,
        userId=alice, filterId=created["filter_id"],
    )  # fmt: skip
    await api.call(
        "PUT", f"{V3}/user/{{userId}}/account_data/{{type}}", token, json={"a": 1},
        userId=alice, type="org.example.a",
    )  # fmt: skip
    await api.call(
        "GET", f"{V3}/user/{{userId}}/account_data/{{type}}", token,
        userId=alice, type="org.example.a",
    )  # fmt: skip
    await api.call(
        "GET", f"{V3}/user/{{userId}}/account_data/{{type}}", token, status=404,
        userId=alice, type="org.example.none",
    )  # fmt: skip

    room_id = (await api.call("POST", f"{V3}/createRoom", token, json={"preset": "public_chat"}))[
        "room_id"
    ]
    await api.call(
        "PUT", f"{V3}/directory/room/{{roomAlias}}", token, json={"room_id": room_id},
        roomAlias="#more:test.local",
    )  # fmt: skip
    await api.call(
        "PUT", f"{V3}/directory/room/{{roomAlias}}", token, status=409, json={"room_id": room_id},
        roomAlias="#more:test.local",
    )  # fmt: skip
    await api.call("GET", f"{V3}/directory/room/{{roomAlias}}", roomAlias="#more:test.local")
    await api.call(
        "GET", f"{V3}/directory/room/{{roomAlias}}", status=404, roomAlias="#none:test.local"
    )
    await api.call("GET", f"{V3}/rooms/{{roomId}}/aliases", token, roomId=room_id)
    await api.call(
        "PUT", f"{V3}/directory/list/room/{{roomId}}", token, json={"visibility": "public"},
        roomId=room_id,
    )  # fmt: skip
    await api.call("GET", f"{V3}/directory/list/room/{{roomId}}", roomId=room_id)
    await api.call("POST", f"{V3}/join/{{roomIdOrAlias}}", bob_token, json={},
                   roomIdOrAlias="#more:test.local")  # fmt: skip

    sent = await api.call(
        "PUT", f"{V3}/rooms/{{roomId}}/send/{{eventType}}/{{txnId}}", token,
        json={"msgtype": "m.text", "body": "hi"},
        roomId=room_id, eventType="m.room.message", txnId="1",
    )  # fmt: skip
    await api.call(
        "PUT", f"{V3}/rooms/{{roomId}}/state/{{eventType}}/{{stateKey}}", token,
        json={"topic": "t"}, roomId=room_id, eventType="m.room.topic", stateKey="",
    )  # fmt: skip
    await api.call(
        "PUT", f"{V3}/rooms/{{roomId}}/state/{{eventType}}/{{stateKey}}", bob_token,
        status=403, json={"name": "n"}, roomId=room_id, eventType="m.room.name", stateKey="",
    )  # fmt: skip
    await api.call(
        "PUT", f"{V3}/rooms/{{roomId}}/typing/{{userId}}", bob_token,
        json={"typing": True, "timeout": 3000}, roomId=room_id, userId=bob,
    )  # fmt: skip
    await api.call(
        "POST", f"{V3}/rooms/{{roomId}}/receipt/{{receiptType}}/{{eventId}}", bob_token,
        json={}, roomId=room_id, receiptType="m.read", eventId=sent["event_id"],
    )  # fmt: skip
    await api.call(
        "POST", f"{V3}/rooms/{{roomId}}/read_markers", bob_token,
        json={"m.fully_read": sent["event_id"]}, roomId=room_id,
    )  # fmt: skip
    await api.call(
        "PUT", f"{V3}/rooms/{{roomId}}/redact/{{eventId}}/{{txnId}}", token,
        json={"reason": "r"}, roomId=room_id, eventId=sent["event_id"], txnId="r1",
    )  # fmt: skip
    await api.call(
        "POST", f"{V3}/rooms/{{roomId}}/ban", token, json={"user_id": bob}, roomId=room_id
    )
    await api.call(
        "POST", f"{V3}/rooms/{{roomId}}/unban", token, json={"user_id": bob}, roomId=room_id
    )
    await api.call("POST", f"{V3}/rooms/{{roomId}}/forget", bob_token, json={}, roomId=room_id)
    await api.call(
        "DELETE", f"{V3}/directory/room/{{roomAlias}}", token, roomAlias="#more:test.local"
    )
    await api.call("POST", f"{V3}/logout", bob_token, json={})
    await api.call("POST", f"{V3}/logout/all", token, json={})
    await api.call("GET", f"{V3}/account/whoami", token, status=401)
