"""The outbound federation queue: per-destination persistent queues sending transactions.

Spec: server-server API "Transactions" (``PUT /_matrix/federation/v1/send/{txnId}`` carries at
most 50 PDUs and 100 EDUs; the ``pdus`` result reports per-PDU errors, which are not retried)
and "PDUs" (a server sends the events it creates to every other server in the room).

Invariants:
- Every item is written to ``federation_outbox`` before it is sent, and deleted only once the
  destination accepted the transaction carrying it: a restart resumes where it stopped.
- One transaction in flight per destination (one worker task each), in queue order.
- A failed destination waits ``min_interval_ms``, then ``multiplier`` times longer after each
  further failure, up to ``max_interval_ms``; the wait is stored and survives a restart. New
  items during the wait are queued; inbound traffic from the destination (``retry_now``) ends
  the wait early, as it shows the server is back.
- Transaction IDs are fresh per attempt (start time + counter): a retry may carry more items
  than the failed attempt, so it must not reuse an ID the receiver may have seen. Receivers
  drop PDUs they already have, so resending is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from transom.core.events import Event, JsonDict
from transom.services.clock import Clock
from transom.storage.federation_outbox import EDU, PDU, FederationOutbox, OutboxItem, RetryState
from transom.storage.state import StateStore

logger = logging.getLogger(__name__)

# Server-server API "Transactions": limits per transaction (all room versions).
MAX_PDUS_PER_TRANSACTION = 50
MAX_EDUS_PER_TRANSACTION = 100


class TransactionClient(Protocol):
    async def put_json(
        self, destination: str, path: str, body: Any, *, query: Any = None, timeout: float = 30
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for failing destinations (config ``federation_retry``)."""

    min_interval_ms: int = 10_000
    max_interval_ms: int = 24 * 3600 * 1000
    multiplier: float = 2.0

    def next_interval(self, previous: RetryState | None) -> int:
        if previous is None:
            return self.min_interval_ms
        grown = int(previous.retry_interval_ms * self.multiplier)
        return max(self.min_interval_ms, min(grown, self.max_interval_ms))


class FederationSender:
    """Queues PDUs and EDUs per destination and sends them as transactions."""

    def __init__(
        self,
        *,
        server_name: str,
        outbox: FederationOutbox,
        client: TransactionClient,
        state: StateStore,
        clock: Clock,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.server_name = server_name
        self.outbox = outbox
        self.client = client
        self.state = state
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self._wake: dict[str, asyncio.Event] = {}
        self._retry_now: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._txn_prefix = str(clock.time_msec())
        self._txn_counter = 0
        self._stopped = False

    # Lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume the queues of destinations that still have items (after a restart)."""
        await self.outbox.setup()
        for destination in await self.outbox.destinations_with_pending():
            self.wake(destination)

    async def stop(self) -> None:
        self._stopped = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    # Queueing ---------------------------------------------------------------------------------

    async def on_new_events(self, events: Sequence[Event]) -> None:
        """``EventCreator`` listener: send locally created events to the room's servers."""
        for event in events:
            await self.send_pdu(event, await self.destinations_for(event))

    async def destinations_for(self, event: Event) -> set[str]:
        """Servers with joined members in the room's current state, plus the target's server
        of a member event (an invite, kick or ban of a remote user); never ourselves."""
        hosts = set(await self.state.get_joined_hosts(event.room_id))
        if event.type == "m.room.member" and event.state_key and ":" in event.state_key:
            hosts.add(event.state_key.split(":", 1)[1])
        hosts.discard(self.server_name)
        return hosts

    async def send_pdu(self, event: Event, destinations: Iterable[str]) -> None:
        targets = sorted(set(destinations) - {self.server_name})
        await self.outbox.enqueue(targets, PDU, dict(event.pdu))
        for destination in targets:
            self.wake(destination)

    async def send_edu(self, destination: str, edu_type: str, content: JsonDict) -> None:
        if destination == self.server_name:
            return
        await self.outbox.enqueue([destination], EDU, {"edu_type": edu_type, "content": content})
        self.wake(destination)

    def wake(self, destination: str) -> None:
        """Make the destination's worker look at its queue now (starting it if needed)."""
        if self._stopped:
            return
        self._wake.setdefault(destination, asyncio.Event()).set()
        task = self._tasks.get(destination)
        if task is None or task.done():
            self._tasks[destination] = asyncio.create_task(
                self._run(destination), name=f"federation-sender-{destination}"
            )

    async def retry_now(self, destination: str) -> None:
        """End a destination's backoff early (it just talked to us, so it is up)."""
        if await self.outbox.get_retry(destination) is None:
            return
        await self.outbox.set_retry(destination, None)
        self._retry_now.setdefault(destination, asyncio.Event()).set()
        self.wake(destination)

    async def on_inbound(self, events: Sequence[Event], origin: str) -> None:
        """``hs.federation_events`` listener: inbound events from ``origin``."""
        await self.retry_now(origin)

    # The worker -------------------------------------------------------------------------------

    async def _run(self, destination: str) -> None:
        wake = self._wake.setdefault(destination, asyncio.Event())
        retry_now = self._retry_now.setdefault(destination, asyncio.Event())
        while not self._stopped:
            retry = await self.outbox.get_retry(destination)
            wait_ms = retry.retry_after_ts - self.clock.time_msec() if retry else 0
            if wait_ms > 0:
                retry_now.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(retry_now.wait(), wait_ms / 1000)
                continue
            wake.clear()
            pdus = await self.outbox.pending(destination, PDU, MAX_PDUS_PER_TRANSACTION)
            edus = await self.outbox.pending(destination, EDU, MAX_EDUS_PER_TRANSACTION)
            if not pdus and not edus:
                await wake.wait()
                continue
            if await self._send_transaction(destination, pdus, edus):
                await self.outbox.remove([item.id for item in (*pdus, *edus)])
                if retry is not None:
                    await self.outbox.set_retry(destination, None)
            else:
                interval = self.policy.next_interval(retry)
                await self.outbox.set_retry(
                    destination,
                    RetryState(
                        failure_count=(retry.failure_count if retry else 0) + 1,
                        retry_interval_ms=interval,
                        retry_after_ts=self.clock.time_msec() + interval,
                    ),
                )

    async def _send_transaction(
        self, destination: str, pdus: list[OutboxItem], edus: list[OutboxItem]
    ) -> bool:
        """One ``PUT /send``; True when the destination accepted it (per-PDU errors included:
        the spec treats them as final, so those PDUs are not retried)."""
        self._txn_counter += 1
        txn_id = f"{self._txn_prefix}.{self._txn_counter}"
        body = {
            "origin": self.server_name,
            "origin_server_ts": self.clock.time_msec(),
            "pdus": [item.data for item in pdus],
            "edus": [item.data for item in edus],
        }
        path = f"/_matrix/federation/v1/send/{quote(txn_id, safe='')}"
        try:
            response = await self.client.put_json(destination, path, body)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status == 400:
                # A transaction the destination calls malformed will never succeed: drop it
                # rather than block the queue behind it.
                logger.warning("%s refused transaction %s as malformed: %s", destination, txn_id,
                               exc)  # fmt: skip
                return True
            logger.info("Transaction %s to %s failed: %s", txn_id, destination, exc)
            return False
        results = response.get("pdus") if isinstance(response, dict) else None
        if isinstance(results, dict):
            for event_id, result in results.items():
                if isinstance(result, dict) and result.get("error"):
                    logger.info("%s refused %s: %s", destination, event_id, result["error"])
        return True
