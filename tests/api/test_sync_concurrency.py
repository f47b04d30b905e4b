"""Incremental /sync under concurrent writers: readers looping on ``since`` with long-polls see
every message exactly once and in order, however the writes interleave with their syncs."""

from __future__ import annotations

import asyncio
from typing import Any

from test_sync import create_room, do_sync, join, send

ServerHandle = Any

WRITERS = 4
MESSAGES = 12


async def test_nothing_missed_nothing_duplicated(server: ServerHandle) -> None:
    _, owner_token, _ = await server.register("owner")
    rooms = [await create_room(server, owner_token, preset="public_chat") for _ in range(2)]
    writers = [await server.register(f"writer{i}") for i in range(WRITERS)]
    readers = [await server.register(f"reader{i}") for i in range(2)]
    for _, token, _ in writers + readers:
        for room_id in rooms:
            await join(server, token, room_id)
    expected = {f"w{w}-{n}" for w in range(WRITERS) for n in range(MESSAGES)}
    done = asyncio.Event()

    async def write(index: int, token: str) -> None:
        for n in range(MESSAGES):
            await send(server, token, rooms[(index + n) % 2], f"w{index}-{n}")
            if n % 3 == 0:
                await asyncio.sleep(0)

    async def read(token: str) -> list[str]:
        seen: list[str] = []
        body = await do_sync(server, token)
        since = body["next_batch"]
        while True:
            finished = done.is_set()
            body = await do_sync(server, token, since, timeout="200")
            assert body["next_batch"]
            for room in body["rooms"]["join"].values():
                assert room["timeline"]["limited"] is False
                for event in room["timeline"]["events"]:
                    if event["type"] == "m.room.message":
                        seen.append(event["content"]["body"])
            since = body["next_batch"]
            if finished:
                return seen

    reader_tasks = [asyncio.create_task(read(token)) for _, token, _ in readers]
    await asyncio.sleep(0.05)
    await asyncio.gather(*(write(i, token) for i, (_, token, _) in enumerate(writers)))
    done.set()
    results = await asyncio.gather(*reader_tasks)
    for seen in results:
        assert len(seen) == len(set(seen)), "an event was delivered twice"
        assert set(seen) == expected, "an event was missed"
        for w in range(WRITERS):
            mine = [int(s.split("-")[1]) for s in seen if s.startswith(f"w{w}-")]
            assert mine == sorted(mine)
