"""Sync tokens (client-server API "Syncing": ``since``/``next_batch`` are opaque to clients).

``s{stream}_{typing}``: ``stream`` is a position of the server's one global stream (events,
memberships, account data, receipts: everything at or below it was committed and seen);
``typing`` is the typing service's serial when the response was built. A bare ``s{stream}`` is
accepted too. ``prev_batch`` tokens use the pagination format ``t{depth}-{stream_ordering}``
(the oldest timeline event, shared with ``/messages``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transom.services.errors import InvalidParam

_SYNC_TOKEN = re.compile(r"s(\d{1,18})(?:_(\d{1,18}))?\Z")


@dataclass(frozen=True, slots=True)
class SyncToken:
    stream: int
    typing: int = 0

    def __str__(self) -> str:
        return f"s{self.stream}_{self.typing}"

    @classmethod
    def parse(cls, text: str) -> SyncToken:
        """Parse a ``since`` token; 400 ``M_INVALID_PARAM`` when it is not one of ours."""
        match = _SYNC_TOKEN.match(text)
        if match is None:
            raise InvalidParam("Invalid 'since' token")
        return cls(int(match.group(1)), int(match.group(2) or 0))


def pagination_token(depth: int, stream_ordering: int) -> str:
    """``prev_batch`` for a timeline starting at an event: paginate back from before it."""
    return f"t{depth}-{stream_ordering}"
