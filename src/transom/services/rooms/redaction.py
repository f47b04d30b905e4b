"""Which recorded redactions take effect when events are served (client-server API
"Redactions"; room versions' "Handling redactions").

- All versions: a redaction applies only to an event of its own room.
- v1–v2: the authorization rules (rule 11) already admitted the redaction only if its sender had
  the redact level or the event IDs' domains matched, so every accepted redaction applies.
- v3+ ("Handling redactions"): redactions are always accepted by the auth rules; the server
  applies one only if (1) its sender's power level is at least the *redact level*, or (2) its
  sender's domain matches the original event's sender's domain.
"""

from __future__ import annotations

from collections.abc import Sequence

from transom.core.auth.numbering import has_redaction_rule
from transom.core.auth.power_levels import get_required_level, get_user_power_level
from transom.core.events import Event, StateKey
from transom.storage.events import EventStore
from transom.storage.pagination import PaginationStore
from transom.storage.state import StateStore

_AUTH_KEYS: tuple[StateKey, ...] = (("m.room.create", ""), ("m.room.power_levels", ""))


def _domain(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


class RedactionChecker:
    """Finds the redaction (if any) that takes effect for each of a batch of events."""

    def __init__(self, events: EventStore, state: StateStore, pages: PaginationStore) -> None:
        self.events = events
        self.state = state
        self.pages = pages

    async def effective_redactions(self, events: Sequence[Event]) -> dict[str, Event]:
        """Map of event ID to the earliest valid redaction of it."""
        by_id = {e.event_id: e for e in events}
        recorded = await self.pages.redactions_of(list(by_id))
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
