"""Rate limiting (client-server API, "Rate limiting"; 429 ``M_LIMIT_EXCEEDED``).

Leaky buckets with Synapse's setting semantics: ``burst_count`` actions may be made at once, and
the bucket drains at ``per_second`` actions per second. Buckets are keyed by a string (user ID,
IP address, room ID or server name) and kept in memory. The clock is injected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from transom.config import RateLimitConfig
from transom.config import RateLimits as RateLimitsConfig
from transom.services.clock import Clock
from transom.services.errors import LimitExceeded

# Drained buckets are forgotten once this many keys are held, so memory stays bounded.
_PRUNE_THRESHOLD = 10_000


class RateLimiter:
    """One limiter (for example "login per address") holding a bucket per key."""

    def __init__(self, name: str, settings: RateLimitConfig, clock: Clock) -> None:
        self.name = name
        self.per_second = settings.per_second
        self.burst_count = settings.burst_count
        self._clock = clock
        # key -> (fill level after the last update, time of that update in seconds)
        self._buckets: dict[str, tuple[float, float]] = {}

    def _level(self, key: str, now: float) -> float:
        level, updated = self._buckets.get(key, (0.0, now))
        return max(0.0, level - (now - updated) * self.per_second)

    def can_do(self, key: str, n_actions: float = 1.0) -> tuple[bool, int]:
        """Whether ``n_actions`` more would fit now, and if not, how many ms until they would."""
        now = self._clock.time()
        level = self._level(key, now)
        excess = level + n_actions - self.burst_count
        if excess <= 0:
            return True, 0
        if self.per_second <= 0:
            return False, 2**31 - 1
        return False, max(1, math.ceil(excess / self.per_second * 1000))

    def record(self, key: str, n_actions: float = 1.0) -> None:
        """Count ``n_actions`` against ``key`` whether or not they fit (failed logins, say)."""
        now = self._clock.time()
        self._buckets[key] = (self._level(key, now) + n_actions, now)
        if len(self._buckets) > _PRUNE_THRESHOLD:
            self._prune(now)

    def check(self, key: str, n_actions: float = 1.0, *, update: bool = True) -> None:
        """Raise ``LimitExceeded`` if ``key`` is over its limit; otherwise count the action."""
        allowed, retry_after_ms = self.can_do(key, n_actions)
        if not allowed:
            raise LimitExceeded(retry_after_ms)
        if update:
            self.record(key, n_actions)

    def _prune(self, now: float) -> None:
        for key in [k for k in self._buckets if self._level(k, now) <= 0]:
            del self._buckets[key]


@dataclass(slots=True)
class RateLimiters:
    """Every limiter the server uses, built from the ``rc_*`` settings."""

    message: RateLimiter
    login_address: RateLimiter
    login_account: RateLimiter
    login_failed_attempts: RateLimiter
    registration: RateLimiter
    joins_local: RateLimiter
    joins_remote: RateLimiter
    invites_per_room: RateLimiter
    invites_per_user: RateLimiter
    invites_per_issuer: RateLimiter
    # Knocks get their own limiters: knock-and-rescind loops are the spam vector the knocking
    # proposal (MSC2403) warns about. per_server applies to knocks arriving over federation.
    knocks_per_user: RateLimiter
    knocks_per_room: RateLimiter
    knocks_per_server: RateLimiter

    @classmethod
    def from_config(cls, rc: RateLimitsConfig, clock: Clock) -> RateLimiters:
        return cls(
            message=RateLimiter("rc_message", rc.message, clock),
            login_address=RateLimiter("rc_login.address", rc.login_address, clock),
            login_account=RateLimiter("rc_login.account", rc.login_account, clock),
            login_failed_attempts=RateLimiter(
                "rc_login.failed_attempts", rc.login_failed_attempts, clock
            ),
            registration=RateLimiter("rc_registration", rc.registration, clock),
            joins_local=RateLimiter("rc_joins.local", rc.joins_local, clock),
            joins_remote=RateLimiter("rc_joins.remote", rc.joins_remote, clock),
            invites_per_room=RateLimiter("rc_invites.per_room", rc.invites_per_room, clock),
            invites_per_user=RateLimiter("rc_invites.per_user", rc.invites_per_user, clock),
            invites_per_issuer=RateLimiter("rc_invites.per_issuer", rc.invites_per_issuer, clock),
            knocks_per_user=RateLimiter("rc_knocks.per_user", rc.knocks_per_user, clock),
            knocks_per_room=RateLimiter("rc_knocks.per_room", rc.knocks_per_room, clock),
            knocks_per_server=RateLimiter("rc_knocks.per_server", rc.knocks_per_server, clock),
        )
