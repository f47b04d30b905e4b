"""The outbound federation queue: batching, one transaction in flight, backoff, restart.

Runs on SQLite and PostgreSQL against a recording transaction client (no network).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from signedjson.key import generate_signing_key

from transom.core.events import Event
from transom.core.pdu import build_event
from transom.core.room_versions import get_room_version
from transom.services.clock import SystemClock
from transom.services.federation.sender import FederationSender, RetryPolicy
from transom.storage.federation_outbox import FederationOutbox
from transom.storage.state import StateStore
from transom.storage.store import Store

KEY = generate_signing_key("t")
V10 = get_room_version("10")
FAST = RetryPolicy(min_interval_ms=20, max_interval_ms=80, multiplier=2)


def make_event(n: int, room_id: str = "!room:here") -> Event:
    return build_event(
        room_version=V10, room_id=room_id, sender="@u:here", event_type="m.room.message",
        content={"body": str(n)}, prev_events=[], auth_events=[], depth=n + 1,
        origin_server_ts=1_700_000_000_000 + n, origin="here", signing_key=KEY,
    )  # fmt: skip


class RecordingClient:
    """Answers transactions; ``fail`` leading attempts fail with ``error``."""

    def __init__(self, fail: int = 0, error: Exception | None = None) -> None:
        self.fail = fail
        self.error = error or ConnectionError("down")
        self.transactions: list[tuple[str, str, dict[str, Any]]] = []
        self.attempts = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.delivered = asyncio.Event()
        self.expected = 0

    async def put_json(self, destination: str, path: str, body: Any, **_: Any) -> Any:
        self.attempts += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            if self.fail > 0:
                self.fail -= 1
                raise self.error
            self.transactions.append((destination, path, body))
            if sum(len(t[2]["pdus"]) + len(t[2]["edus"]) for t in self.transactions) >= (
                self.expected
            ):
                self.delivered.set()
            return {"pdus": {p.get("event_id", ""): {} for p in body["pdus"]}}
        finally:
            self.in_flight -= 1


async def settled(sender: FederationSender, destination: str) -> None:
    """Wait until the destination's queue is empty and its backoff cleared."""
    for _ in range(1000):
        if await sender.outbox.count(destination) == 0 and (
            await sender.outbox.get_retry(destination) is None
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"queue for {destination} never settled")


def make_sender(store: Store, client: RecordingClient) -> FederationSender:
    return FederationSender(
        server_name="here", outbox=FederationOutbox(store.db), client=client,
        state=StateStore(store.db), clock=SystemClock(), policy=FAST,
    )  # fmt: skip


async def test_batches_respect_limits_and_order(store: Store) -> None:
    client = RecordingClient()
    client.expected = 120 + 150
    sender = make_sender(store, client)
    await sender.start()
    events = [make_event(i) for i in range(120)]
    for event in events:
        await sender.send_pdu(event, ["there", "here"])
    for i in range(150):
        await sender.send_edu("there", "m.typing", {"n": i})
    await asyncio.wait_for(client.delivered.wait(), 10)
    await settled(sender, "there")
    await sender.stop()
    assert all(dest == "there" for dest, _, _ in client.transactions)
    paths = [path for _, path, _ in client.transactions]
    assert all(path.startswith("/_matrix/federation/v1/send/") for path in paths)
    assert all(len(t["pdus"]) <= 50 and len(t["edus"]) <= 100 for _, _, t in client.transactions)
    assert all(t["origin"] == "here" for _, _, t in client.transactions)
    sent_pdus = [p["content"]["body"] for _, _, t in client.transactions for p in t["pdus"]]
    assert sent_pdus == [str(i) for i in range(120)]
    sent_edus = [e["content"]["n"] for _, _, t in client.transactions for e in t["edus"]]
    assert sent_edus == list(range(150))
    assert client.max_in_flight == 1
    txn_ids = [path for _, path, _ in client.transactions]
    assert len(set(txn_ids)) == len(txn_ids)
    assert await sender.outbox.count("there") == 0
    # Nothing is ever sent to ourselves.
    assert await sender.outbox.count("here") == 0


async def test_backoff_grows_then_clears_on_success(store: Store) -> None:
    client = RecordingClient(fail=3)
    client.expected = 1
    sender = make_sender(store, client)
    await sender.start()
    seen: list[int] = []
    original = sender.outbox.set_retry

    async def record(destination: str, state: Any) -> None:
        if state is not None:
            seen.append(state.retry_interval_ms)
        await original(destination, state)

    sender.outbox.set_retry = record  # type: ignore[method-assign]
    await sender.send_pdu(make_event(1), ["there"])
    await asyncio.wait_for(client.delivered.wait(), 10)
    await settled(sender, "there")
    await sender.stop()
    assert seen == [20, 40, 80]
    assert client.attempts == 4
    assert await sender.outbox.get_retry("there") is None
    assert await sender.outbox.count("there") == 0


async def test_queue_survives_restart(store: Store) -> None:
    down = RecordingClient(fail=10**6)
    first = make_sender(store, down)
    await first.start()
    for i in range(3):
        await first.send_pdu(make_event(i), ["there"])
    await first.send_edu("there", "m.receipt", {"x": 1})
    while down.attempts == 0:
        await asyncio.sleep(0.01)
    await first.stop()
    assert await first.outbox.count("there") == 4
    assert down.transactions == []

    up = RecordingClient()
    up.expected = 4
    second = make_sender(store, up)
    await second.start()
    await asyncio.wait_for(up.delivered.wait(), 10)
    await settled(second, "there")
    await second.stop()
    bodies = [p["content"]["body"] for _, _, t in up.transactions for p in t["pdus"]]
    assert bodies == ["0", "1", "2"]
    assert [e["edu_type"] for _, _, t in up.transactions for e in t["edus"]] == ["m.receipt"]
    assert await second.outbox.count("there") == 0


async def test_malformed_answer_drops_the_transaction(store: Store) -> None:
    class Refused(Exception):
        status = 400

    client = RecordingClient(fail=1, error=Refused("bad"))
    client.expected = 1
    sender = make_sender(store, client)
    await sender.start()
    await sender.send_pdu(make_event(1), ["there"])
    while client.attempts == 0:
        await asyncio.sleep(0.01)
    await sender.send_pdu(make_event(2), ["there"])
    await asyncio.wait_for(client.delivered.wait(), 10)
    await settled(sender, "there")
    await sender.stop()
    bodies = [p["content"]["body"] for _, _, t in client.transactions for p in t["pdus"]]
    assert bodies == ["2"]
    assert await sender.outbox.get_retry("there") is None


async def test_retry_now_ends_a_long_backoff(store: Store) -> None:
    client = RecordingClient(fail=1)
    client.expected = 1
    sender = FederationSender(
        server_name="here", outbox=FederationOutbox(store.db), client=client,
        state=StateStore(store.db), clock=SystemClock(),
        policy=RetryPolicy(min_interval_ms=3_600_000, max_interval_ms=3_600_000),
    )  # fmt: skip
    await sender.start()
    await sender.send_pdu(make_event(1), ["there"])
    while await sender.outbox.get_retry("there") is None:
        await asyncio.sleep(0.01)
    # A new item does not skip the backoff...
    await sender.send_pdu(make_event(2), ["there"])
    await asyncio.sleep(0.05)
    assert client.transactions == []
    # ...but hearing from the destination does.
    await sender.on_inbound([], "there")
    client.expected = 2
    await asyncio.wait_for(client.delivered.wait(), 10)
    await settled(sender, "there")
    await sender.stop()
    assert [p["content"]["body"] for _, _, t in client.transactions for p in t["pdus"]] == [
        "1",
        "2",
    ]


@pytest.mark.parametrize("membership", ["invite", "ban"])
async def test_destinations_are_joined_servers_and_the_target(
    store: Store, membership: str
) -> None:
    rows = [
        ("@a:here", "join"), ("@b:one", "join"), ("@c:two", "leave"), ("@d:three", "invite"),
    ]  # fmt: skip
    for user, member in rows:
        await store.db.execute(
            "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
            " VALUES ($1, 'm.room.member', $2, $3, $4)",
            "!room:here", user, f"$e{user}", member,
        )  # fmt: skip
    sender = make_sender(store, RecordingClient())
    message = make_event(1)
    assert await sender.destinations_for(message) == {"one"}
    member_event = build_event(
        room_version=V10, room_id="!room:here", sender="@a:here", event_type="m.room.member",
        content={"membership": membership}, state_key="@z:four", prev_events=[], auth_events=[],
        depth=2, origin_server_ts=1, origin="here", signing_key=KEY,
    )  # fmt: skip
    assert await sender.destinations_for(member_event) == {"one", "four"}
