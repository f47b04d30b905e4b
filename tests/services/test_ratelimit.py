"""Rate-limit buckets (client-server API, "Rate limiting") with an injected clock."""

from __future__ import annotations

import pytest

from transom.config import RateLimitConfig, RateLimits
from transom.services.clock import ManualClock
from transom.services.errors import LimitExceeded
from transom.services.ratelimit import RateLimiter, RateLimiters


def test_burst_then_refill() -> None:
    clock = ManualClock()
    limiter = RateLimiter("t", RateLimitConfig(per_second=0.5, burst_count=3), clock)
    for _ in range(3):
        limiter.check("k")
    with pytest.raises(LimitExceeded) as exc:
        limiter.check("k")
    # One action drains in 2 s.
    assert exc.value.retry_after_ms == 2000
    clock.advance(1.9)
    with pytest.raises(LimitExceeded):
        limiter.check("k")
    clock.advance(0.1)
    limiter.check("k")
    with pytest.raises(LimitExceeded):
        limiter.check("k")


def test_keys_are_independent() -> None:
    limiter = RateLimiter("t", RateLimitConfig(0.1, 1), ManualClock())
    limiter.check("a")
    limiter.check("b")
    with pytest.raises(LimitExceeded):
        limiter.check("a")


def test_check_without_update_and_record() -> None:
    clock = ManualClock()
    limiter = RateLimiter("t", RateLimitConfig(1, 2), clock)
    for _ in range(5):
        limiter.check("k", update=False)  # never counted
    limiter.record("k")
    limiter.record("k")
    limiter.record("k")  # recorded even past the burst
    allowed, retry_ms = limiter.can_do("k")
    assert not allowed and retry_ms == 2000
    clock.advance(10)
    assert limiter.can_do("k") == (True, 0)


def test_zero_rate_never_refills() -> None:
    clock = ManualClock()
    limiter = RateLimiter("t", RateLimitConfig(0, 1), clock)
    limiter.check("k")
    clock.advance(10_000)
    with pytest.raises(LimitExceeded):
        limiter.check("k")


def test_limiters_built_from_config_include_knocks() -> None:
    rc = RateLimits(knocks_per_room=RateLimitConfig(0.5, 1))
    limiters = RateLimiters.from_config(rc, ManualClock())
    limiters.knocks_per_room.check("!room")
    with pytest.raises(LimitExceeded):
        limiters.knocks_per_room.check("!room")
    limiters.knocks_per_user.check("@u:hs")
    limiters.knocks_per_server.check("other.example")
