"""Federation queries, public rooms and the hierarchy, asked by a fake federation peer.

Server-server API "Querying for information", "Public Room Directory", "Spaces".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import MakeFedServer
from .fake_remote import FakeRemoteServer

V1 = "/_matrix/federation/v1"


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[FakeRemoteServer]:
    fake = await FakeRemoteServer().start(tmp_path / "fake")
    yield fake
    await fake.stop()


async def test_directory_and_profile_queries(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer
) -> None:
    server = await make_fed_server()
    alice, token, _ = await server.register("alice")
    status, body = await server.request(
        "POST", "/_matrix/client/v3/createRoom", token, json={"room_alias_name": "hall"}
    )
    assert status == 200, body
    alias = f"#hall:{server.server_name}"
    status, answer = await remote.request(
        server, "GET", f"{V1}/query/directory", query={"room_alias": alias}
    )
    assert (status, answer) == (200, {"room_id": body["room_id"], "servers": [server.server_name]})
    status, answer = await remote.request(
        server, "GET", f"{V1}/query/directory", query={"room_alias": f"#none:{server.server_name}"}
    )
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")

    status, _ = await server.request(
        "PUT", f"/_matrix/client/v3/profile/{quote(alice)}/displayname", token,
        json={"displayname": "Alice A."},
    )  # fmt: skip
    assert status == 200
    status, answer = await remote.request(
        server, "GET", f"{V1}/query/profile", query={"user_id": alice}
    )
    assert status == 200 and answer["displayname"] == "Alice A."
    status, answer = await remote.request(
        server, "GET", f"{V1}/query/profile", query={"user_id": alice, "field": "avatar_url"}
    )
    assert status == 404
    status, answer = await remote.request(
        server, "GET", f"{V1}/query/profile", query={"user_id": f"@nobody:{server.server_name}"}
    )
    assert status == 404


@pytest.mark.parametrize("allowed", [True, False])
async def test_public_rooms_over_federation(
    make_fed_server: MakeFedServer, remote: FakeRemoteServer, allowed: bool
) -> None:
    server = await make_fed_server(allow_public_rooms_over_federation=allowed)
    _, token, _ = await server.register("alice")
    status, body = await server.request(
        "POST", "/_matrix/client/v3/createRoom", token,
        json={"visibility": "public", "preset": "public_chat", "name": "Town square"},
    )  # fmt: skip
    assert status == 200, body
    status, answer = await remote.request(server, "GET", f"{V1}/publicRooms")
    if not allowed:
        assert status == 403
        return
    assert status == 200, answer
    assert [r["room_id"] for r in answer["chunk"]] == [body["room_id"]]
    status, answer = await remote.request(
        server, "POST", f"{V1}/publicRooms", {"filter": {"generic_search_term": "nothing"}}
    )
    assert (status, answer["chunk"]) == (200, [])

    status, answer = await remote.request(
        server, "GET", f"{V1}/hierarchy/{quote(body['room_id'], safe='')}"
    )
    assert status == 200, answer
    assert answer["room"]["room_id"] == body["room_id"]
    assert answer["room"]["name"] == "Town square"
    assert answer["children"] == []
