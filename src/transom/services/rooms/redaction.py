"""Which recorded redactions take effect when events are served (client-server API
"Redactions"; room versions' "Handling redactions").

- All versions: a redaction applies only to an event of its own room.
- v1–v2: the authorization rules (rule 11) already admitted the redaction only if its sender had
  the redact level or the event IDs' domains matched, so every accepted redaction applies.
- v3+ ("Handling redactions"): redactions are always accepted by the auth rules; the server
  applies one only if (1) its sender's power level is at least the *redact level*, or (2) its
  sender's domain matches the original event's sender's domain.

Which redaction takes effect for an event is cached per event: the recorded redactions of an
event only grow, and each new one is persisted at a new stream position (forwards, or downwards
for backfilled history). Before answering, the checker reads the redactions persisted at the
positions it has not seen yet and forgets the cached answer for their targets.
"""

from __future__ import annotations

from collections.abc import Sequence

from transom.core.auth.numbering import has_redaction_rule
from transom.core.auth.power_levels import get_required_level, get_user_power_level
from transom.core.events import Event, StateKey
from transom.storage.caches import FifoCache, StreamWatermark
from transom.storage.events import EventStore
from transom.storage.pagination import PaginationStore, StreamPositions
from transom.storage.state import StateStore

_AUTH_KEYS: tuple[StateKey, ...] = (("m.room.create", ""), ("m.room.power_levels", ""))

# Beyond this many unseen stream positions the cache is dropped rather than brought up to date.
RESCAN_LIMIT = 20_000


def _domain(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


class RedactionChecker:
    """Finds the redaction (if any) that takes effect for each of a batch of events."""

    def __init__(
        self,
        events: EventStore,
        state: StateStore,
        pages: PaginationStore,
        streams: StreamPositions | None = None,
        cache_size: int = 50_000,
    ) -> None:
        self.events = events
        self.state = state
        self.pages = pages
        # Without stream positions nothing is cached.
        self.streams = streams
        # event ID -> ID of the redaction in effect, "" for none.
        self._effective: FifoCache[str, str] = FifoCache(cache_size)
        # The stream positions whose redactions have been accounted for, and the epoch.
        self._seen = StreamWatermark(RESCAN_LIMIT)

    async def effective_redactions(self, events: Sequence[Event]) -> dict[str, Event]:
        """Map of event ID to the earliest valid redaction of it."""
        epoch = await self._catch_up()
        known: dict[str, str] = {}
        missing: list[str] = []
        if epoch is None:
            missing = [e.event_id for e in events]
        else:
            get = self._effective.get
            for event in events:
                cached = get(event.event_id)
                if cached is None:
                    missing.append(event.event_id)
                elif cached:
                    known[event.event_id] = cached
        found: dict[str, Event] = {}
        if missing:
            by_id = {e.event_id: e for e in events}
            found = await self._find(by_id, missing)
            if epoch is not None and epoch == self._seen.epoch:
                for event_id in missing:
                    redaction = found.get(event_id)
                    self._effective.put(event_id, redaction.event_id if redaction else "")
        if known:
            loaded = await self.events.get_events(list(known.values()))
            for event_id, redaction_id in known.items():
                redaction = loaded.get(redaction_id)
                if redaction is not None:
                    found[event_id] = redaction
        return found

    async def _find(self, by_id: dict[str, Event], event_ids: list[str]) -> dict[str, Event]:
        """The redaction in effect for each of ``event_ids``, from the recorded ones."""
        recorded = await self.pages.redactions_of(list(dict.fromkeys(event_ids)))
        redaction_events = await self.events.get_events(
            [rid for ids in recorded.values() for rid in ids]
        )
        result: dict[str, Event] = {}
        for target_id, redaction_ids in recorded.items():
            target = by_id[target_id]
            for redaction_id in redaction_ids:
                redaction = redaction_events.get(redaction_id)
                if redaction is not None and await self.applies(redaction, target):
                    result[target_id] = redaction
                    break
        return result

    async def _catch_up(self) -> int | None:
        """Forget the cached answers of events redacted at positions not seen yet; the epoch
        to store new answers under, or None when nothing is cached."""
        return await self._seen.catch_up(
            self.streams, self.pages.redacted_between, self._effective.pop, self._effective.clear
        )

    async def applies(self, redaction: Event, target: Event) -> bool:
        # All versions: a redaction only affects an event of the same room.
        if redaction.room_id != target.room_id or redaction.redacts != target.event_id:
            return False
        # v1–v2: admitted by auth rule 11 when it was accepted.
        if has_redaction_rule(redaction.room_version):
            return True
        # v3+ "Handling redactions", condition 2: same sender domain.
        if _domain(redaction.sender) == _domain(target.sender):
            return True
        # v3+ "Handling redactions", condition 1: the redact level, in the state at the redaction.
        state_ids = await self.state.get_state_after(redaction.event_id)
        if state_ids is None:
            return False
        wanted = [state_ids[k] for k in _AUTH_KEYS if k in state_ids]
        loaded = await self.events.get_events(wanted)
        auth = {e.state_tuple: e for e in loaded.values()}
        level = get_user_power_level(redaction.sender, auth)
        return level >= get_required_level(auth, "redact")
